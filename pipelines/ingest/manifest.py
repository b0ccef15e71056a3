"""manifest.json: read, and judge against the directory it was found in.

A delivery is identified by the sha256 of the manifest's bytes. Faults that concern the
whole manifest (`manifest_unreadable`, `manifest_mismatch`) reject every file of the
batch; faults of one entry (`unknown_dataset`) reject that file only. The regular files of
the batch folder that a readable manifest does not name are its `unlisted` files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.contract import DATASETS, MODES
from pipelines.redact import quoted

MANIFEST = "manifest.json"
_TOP_FIELDS = ("source", "batch_id", "batch_date", "created_at", "files")
_FILE_FIELDS = ("dataset", "path", "encoding", "mode", "rows", "sha256")


@dataclass(frozen=True)
class FileEntry:
    dataset: str
    path: str
    encoding: str
    mode: str
    rows: int | None
    sha256: str
    fault: tuple[str, str] | None = None  # (reason, message) when the entry itself is refused


@dataclass(frozen=True)
class Manifest:
    directory: Path
    source: str
    batch_date: dt.date
    delivery: str
    entries: tuple[FileEntry, ...]
    fault: tuple[str, str] | None = None  # a fault of the whole manifest
    unlisted: tuple[str, ...] = ()  # names of the folder's files the manifest does not name

    @property
    def label(self) -> str:
        return f"{self.source}/{self.batch_date.isoformat()}"


def read_manifest(directory: Path, source: str, batch_date: dt.date) -> Manifest:
    """Read `<directory>/manifest.json`; faults are recorded, never raised."""
    raw = (directory / MANIFEST).read_bytes()
    delivery = hashlib.sha256(raw).hexdigest()
    where = f"{source}/{batch_date.isoformat()}/{MANIFEST}"
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
        _require(doc, _TOP_FIELDS, where)
        if not isinstance(doc["files"], list):
            raise _Unreadable(f"{where}: 'files' is not a list")
        for i, f in enumerate(doc["files"]):
            _require(f, _FILE_FIELDS, f"{where}: files[{i}]")
            rows = f["rows"]
            if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
                raise _Unreadable(f"{where}: files[{i}]: rows {quoted(rows)} is not a row count")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _unreadable(directory, source, batch_date, delivery, f"{where}: not valid JSON: {exc}")
    except _Unreadable as exc:
        return _unreadable(directory, source, batch_date, delivery, str(exc))

    entries = tuple(_entry(f, source) for f in doc["files"])
    fault = None
    if doc["source"] != source or str(doc["batch_date"]) != batch_date.isoformat():
        fault = (
            "manifest_mismatch",
            f"{where}: manifest says source={quoted(doc['source'])} batch_date={quoted(doc['batch_date'])}, "
            f"the directory is {source}/{batch_date.isoformat()}",
        )
    named = {e.path for e in entries} | {MANIFEST}
    unlisted = tuple(sorted(_printable(p.name) for p in directory.iterdir()
                            if p.name not in named and p.is_file()))
    return Manifest(directory, source, batch_date, delivery, entries, fault, unlisted)


def _printable(name: str) -> str:
    """A file name as text (bytes that are not UTF-8 become U+FFFD)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class _Unreadable(ValueError):
    pass


def _require(obj: Any, fields: tuple[str, ...], where: str) -> None:
    if not isinstance(obj, dict):
        raise _Unreadable(f"{where}: expected an object")
    missing = [f for f in fields if f not in obj or obj[f] is None]
    if missing:
        raise _Unreadable(f"{where}: lacks required field(s) {', '.join(missing)}")


def _unreadable(
    directory: Path, source: str, batch_date: dt.date, delivery: str, message: str
) -> Manifest:
    """Every CSV of the directory is rejected; the manifest names none we can trust."""
    entries = tuple(
        FileEntry(p.stem, p.name, "", "", None, "", ("manifest_unreadable", message))
        for p in sorted(directory.glob("*.csv"))
    )
    return Manifest(directory, source, batch_date, delivery, entries,
                    ("manifest_unreadable", message))


def _entry(f: dict[str, Any], source: str) -> FileEntry:
    dataset, path = str(f["dataset"]), str(f["path"])
    entry = FileEntry(dataset, path, str(f["encoding"]).lower(), str(f["mode"]), int(f["rows"]),
                      str(f["sha256"]).lower())
    spec = DATASETS.get(dataset)
    if spec is None:
        return _with_fault(entry, "unknown_dataset", f"{path}: the contract has no dataset {quoted(dataset)}")
    if spec.source != source:
        return _with_fault(entry, "unknown_dataset",
                           f"{path}: {quoted(dataset)} is delivered by {spec.source}, not {source}")
    if entry.mode not in MODES or entry.mode != spec.mode:
        return _with_fault(entry, "unknown_dataset",
                           f"{path}: {quoted(dataset)} is a {spec.mode} dataset, manifest says "
                           f"mode {quoted(entry.mode)}")
    if "/" in path or "\\" in path or path in ("", ".", ".."):
        return _with_fault(entry, "file_missing",
                           f"{path}: a file path must name a file in the batch directory")
    return entry


def _with_fault(entry: FileEntry, reason: str, message: str) -> FileEntry:
    return FileEntry(entry.dataset, entry.path, entry.encoding, entry.mode, entry.rows,
                     entry.sha256, (reason, message))
