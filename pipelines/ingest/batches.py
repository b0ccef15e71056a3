"""Find complete batches in a landing directory and ingest their deliveries."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import psycopg

from pipelines.contract import SOURCES
from pipelines.ingest.loader import FileOutcome, load_file, record_file
from pipelines.ingest.manifest import MANIFEST, FileEntry, Manifest, read_manifest
from pipelines.progress import emit


def complete_batches(landing: Path, day: dt.date) -> list[tuple[str, Path]]:
    """(source, directory) of each batch of `day` whose manifest has arrived."""
    found = []
    for source in SOURCES:
        directory = landing / source / day.isoformat()
        if (directory / MANIFEST).is_file():
            found.append((source, directory))
    return found


def ingest_batch(
    conn: psycopg.Connection, source: str, directory: Path, day: dt.date,
    datasets: Iterable[str] | None = None,
) -> tuple[Manifest, list[FileOutcome]]:
    """Ingest one delivery (files of `datasets` only, when given; unlisted files always)."""
    manifest = read_manifest(directory, source, day)
    wanted = set(datasets) if datasets is not None else None
    outcomes = [record_unlisted(conn, manifest, name) for name in manifest.unlisted]
    for entry in manifest.entries:
        if wanted is None or entry.dataset in wanted or entry.fault is not None:
            t0 = time.monotonic()
            outcome = load_file(conn, manifest, entry)
            outcomes.append(outcome)
            rows, seconds = outcome.rows_received or 0, time.monotonic() - t0
            emit("ingest", detail=f"{manifest.source}/{entry.dataset}: {outcome.status}, {rows:,} rows"
                 + (f" ({rows / seconds:,.0f} rows/s)" if rows and seconds > 0 else ""))
    return manifest, outcomes


def record_unlisted(conn: psycopg.Connection, manifest: Manifest, name: str) -> FileOutcome:
    """A file the manifest does not name: recorded `unlisted` (once per delivery), never read."""
    entry = FileEntry(Path(name).stem, name, "", "", None, "")
    message = f"{manifest.label}/{name}: the manifest does not name this file; nothing of it loads"
    file_id = record_file(conn, manifest, entry, "unlisted", None, message)
    return FileOutcome(manifest.source, manifest.batch_date.isoformat(), entry.dataset, name,
                       "unlisted" if file_id is not None else "skipped", None, message, None, 0,
                       file_id)


def ingest_day(
    conn: psycopg.Connection, landing: Path, day: dt.date,
    datasets: Iterable[str] | None = None,
) -> list[FileOutcome]:
    """Ingest every complete batch of `day` found under `landing`."""
    outcomes: list[FileOutcome] = []
    wanted = list(datasets) if datasets is not None else None
    emit("ingest", "start", f"batches of {day}")
    for source, directory in complete_batches(landing, day):
        outcomes += ingest_batch(conn, source, directory, day, wanted)[1]
    loaded = sum(o.rows_received or 0 for o in outcomes if o.status == "loaded")
    statuses = Counter("already recorded" if o.status == "skipped" else o.status for o in outcomes)
    emit("ingest", "finish", ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
         + f"; {loaded:,} rows loaded", len(outcomes))
    return outcomes
