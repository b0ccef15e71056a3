"""Write small hand-made batches for ingestion tests."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path

from pipelines.contract import DATASETS


def csv_bytes(header: list[str], rows: list[list[str]], encoding: str = "utf-8",
              newline: str = "\n") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=newline)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


def write_batch(landing: Path, source: str, day: str, files: dict[str, bytes],
                overrides: dict[str, dict] | None = None, rows: dict[str, int] | None = None,
                manifest_extra: dict | None = None) -> Path:
    """files: dataset → bytes. Manifest rows are counted by csv unless given."""
    directory = landing / source / day
    directory.mkdir(parents=True, exist_ok=True)
    entries = []
    for dataset, data in files.items():
        (directory / f"{dataset}.csv").write_bytes(data)
        n = rows.get(dataset) if rows and dataset in rows else _count(data)
        entry = {
            "dataset": dataset, "path": f"{dataset}.csv", "encoding": "utf-8",
            "mode": DATASETS[dataset].mode if dataset in DATASETS else "snapshot",
            "rows": n, "sha256": hashlib.sha256(data).hexdigest(),
        }
        entry.update((overrides or {}).get(dataset, {}))
        entries.append(entry)
    manifest = {"source": source, "batch_id": f"T-{day}", "batch_date": day,
                "created_at": f"{day}T23:00:00+08:00", "files": entries}
    manifest.update(manifest_extra or {})
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return directory


def _count(data: bytes) -> int:
    text = data.decode("utf-8-sig", errors="replace")
    records = list(csv.reader(io.StringIO(text, newline="")))
    while records and records[-1] == []:  # blank lines at the end are not records
        records.pop()
    return len(records) - 1


def rewrite(landing: Path, source: str, day: dt.date, dataset: str,
            change: Callable[[list[str], list[list[str]]], list[list[str]]]) -> None:
    """Deliver the batch again with one file rewritten (its encoding kept) and its manifest entry
    (rows, sha256): each file replaced whole (written beside, then renamed), the manifest last,
    as an exporter re-sends — a run reading the older file meanwhile reads it whole."""
    directory = landing / source / day.isoformat()
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    entry = next(f for f in manifest["files"] if f["dataset"] == dataset)
    encoding = "utf-8-sig" if entry["encoding"] == "utf-8" else entry["encoding"]
    text = (directory / entry["path"]).read_bytes().decode(encoding)
    records = list(csv.reader(io.StringIO(text, newline="")))
    header, rows = records[0], change(records[0], records[1:])
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    data = out.getvalue().encode(entry["encoding"])
    _replace(directory / entry["path"], data)
    entry["rows"], entry["sha256"] = len(rows), hashlib.sha256(data).hexdigest()
    _replace(directory / "manifest.json", json.dumps(manifest, ensure_ascii=False).encode("utf-8"))


def _replace(path: Path, data: bytes) -> None:
    part = path.with_name(f".{path.name}.part")  # not a regular file of the batch for long
    part.write_bytes(data)
    part.replace(path)
