"""Find complete batches in a landing directory and ingest their deliveries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import psycopg

from pipelines.contract import SOURCES
from pipelines.ingest.loader import FileOutcome, load_file, record_file
from pipelines.ingest.manifest import MANIFEST, FileEntry, Manifest, read_manifest


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
    outcomes += [
        load_file(conn, manifest, entry)
        for entry in manifest.entries
        if wanted is None or entry.dataset in wanted or entry.fault is not None
    ]
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
    for source, directory in complete_batches(landing, day):
        outcomes += ingest_batch(conn, source, directory, day, wanted)[1]
    return outcomes
