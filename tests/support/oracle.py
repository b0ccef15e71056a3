"""An independent reading of batches.md, to check the generator's summary against.

It parses the written files with Python's csv module and applies the contract's file
and row rules in the contract's order. It deliberately shares no code with
huiliu_dev/generate (only the contract's tables and the county's topology), so a
mistake in the generator's bookkeeping shows up as a disagreement here.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pipelines.contract import (
    DATASETS,
    ID_CHECK,
    ID_WEIGHTS,
    USCC_ALPHABET,
    USCC_WEIGHTS,
    Dataset,
)
from pipelines.topology import load_topology

_HALF = str.maketrans("０１２３４５６７８９", "0123456789")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


@cache
def _divisions() -> frozenset[str]:
    topo = load_topology()
    return frozenset(v.code for v in topo.villages) | frozenset(f"{t.code}000" for t in topo.towns)


def _codec(encoding: str) -> str:
    return {"utf-8": "utf-8-sig", "gb18030": "gb18030"}[encoding]


# --- value checks -------------------------------------------------------------------------


def norm(value: str) -> str:
    return value.strip().translate(_HALF)


def _real_date(y: int, m: int, d: int) -> bool:
    try:
        dt.date(y, m, d)
    except ValueError:
        return False
    return True


def id_valid(text: str) -> bool:
    s = norm(text).upper()
    if len(s) == 15:
        return s.isdigit() and _real_date(1900 + int(s[6:8]), int(s[8:10]), int(s[10:12]))
    if len(s) != 18 or not s[:17].isdigit() or s[17] not in "0123456789X":
        return False
    if not _real_date(int(s[6:10]), int(s[10:12]), int(s[12:14])):
        return False
    return ID_CHECK[sum(int(c) * w for c, w in zip(s[:17], ID_WEIGHTS, strict=True)) % 11] == s[17]


def id_key(text: str) -> str:
    """The 18-character upper-case form of a valid identity number."""
    s = norm(text).upper()
    if len(s) == 15:
        body = s[:6] + "19" + s[6:]
        return body + ID_CHECK[sum(int(c) * w for c, w in zip(body, ID_WEIGHTS, strict=True)) % 11]
    return s


def uscc_valid(text: str) -> bool:
    s = norm(text)
    if len(s) != 18 or any(c not in USCC_ALPHABET for c in s):
        return False
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(s[:17], USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31] == s[17]


def date_valid(kind: str, text: str) -> bool:
    s = norm(text)
    if kind == "date":
        return bool(_DATE.match(s)) and _real_date(int(s[:4]), int(s[5:7]), int(s[8:10]))
    if kind == "period":
        return bool(_PERIOD.match(s))
    if not _STAMP.match(s):
        return False
    try:
        dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def stamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(norm(text).replace("Z", "+00:00"))


# --- files --------------------------------------------------------------------------------


def records(path: Path, encoding: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(physical line where the record starts, fields)]); trailing blanks dropped."""
    with open(path, encoding=_codec(encoding), newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        out = []
        while True:
            start = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                break
            out.append((start, fields))
    while out and out[-1][1] == []:
        out.pop()
    return header, out


@dataclass
class Row:
    line: int
    values: dict[str, str]  # normalised
    reason: str | None
    column: str | None

    def key(self, ds: Dataset) -> tuple[str, ...]:
        kinds = {c.name: c.kind for c in ds.columns}
        return tuple(
            id_key(self.values[k]) if kinds[k] == "id_number" else self.values[k] for k in ds.key
        )


def _first_fault(ds: Dataset, values: dict[str, str]) -> tuple[str, str] | None:
    cols = ds.columns
    for name in ds.required:
        if values[name] == "":
            return "missing_required", name
    if ds.mode == "delta" and values["op"] not in ("I", "U", "D"):
        return "bad_op", "op"
    for c in cols:
        if c.kind == "id_number" and values[c.name] and not id_valid(values[c.name]):
            return "bad_id_number", c.name
    for c in cols:
        if (
            c.kind in ("uscc", "uscc_optional")
            and values[c.name]
            and not uscc_valid(values[c.name])
        ):
            return "bad_uscc", c.name
    for c in cols:
        if (
            c.kind in ("date", "timestamp", "period")
            and values[c.name]
            and not date_valid(c.kind, values[c.name])
        ):
            return "bad_date", c.name
    for c in cols:
        if c.kind == "amount" and values[c.name] and not _NUMBER.match(values[c.name]):
            return "bad_number", c.name
    if values["division_code"] not in _divisions():
        return "unknown_division", "division_code"
    for c in cols:
        if c.kind == "code" and values[c.name] and values[c.name] not in c.codes:
            return "bad_code", c.name
    return None


def parse(path: Path, dataset_name: str, encoding: str) -> list[Row]:
    """Every record with its normalised values and the reason it is kept aside (or None)."""
    ds = DATASETS[dataset_name]
    header, recs = records(path, encoding)
    if sorted(header) != sorted(ds.column_names):
        raise ValueError(f"{path}: bad header")
    rows = []
    for line, fields in recs:
        if len(fields) != len(header):
            rows.append(Row(line, {}, "field_count", None))
            continue
        values = {h: norm(v) for h, v in zip(header, fields, strict=True)}
        fault = _first_fault(ds, values)
        rows.append(Row(line, values, *(fault or (None, None))))
    if ds.mode == "snapshot":
        groups: dict[tuple[str, ...], list[Row]] = {}
        for r in rows:
            if r.reason is None:
                groups.setdefault(r.key(ds), []).append(r)
        for group in groups.values():
            if len(group) < 2:
                continue
            latest = max(stamp(r.values["updated_at"]) for r in group)
            winners = [r for r in group if stamp(r.values["updated_at"]) == latest]
            for r in group:
                if len(winners) > 1 or r is not winners[0]:
                    r.reason, r.column = "duplicate_key", ",".join(ds.key)
    return rows


def classify_file(
    path: Path, dataset_name: str, encoding: str
) -> list[tuple[int, str, str | None]]:
    """Kept-aside rows: (line number, reason, failing column), in line order."""
    return [
        (r.line, r.reason, r.column)
        for r in parse(path, dataset_name, encoding)
        if r.reason is not None
    ]


def loaded(path: Path, dataset_name: str, encoding: str) -> list[Row]:
    return [r for r in parse(path, dataset_name, encoding) if r.reason is None]


def fold(
    state: dict[tuple[str, ...], Row], path: Path, dataset_name: str, encoding: str
) -> dict[tuple[str, ...], Row]:
    """Apply one delta file to a state (in updated_at, then line order)."""
    ds = DATASETS[dataset_name]
    rows = sorted(
        loaded(path, dataset_name, encoding), key=lambda r: (stamp(r.values["updated_at"]), r.line)
    )
    for r in rows:
        if r.values["op"] == "D":
            state.pop(r.key(ds), None)
        else:
            state[r.key(ds)] = r
    return state


def count_valid(
    path: Path, dataset_name: str, encoding: str, state: dict[tuple[str, ...], Row] | None = None
) -> dict[str, int]:
    """Rows per division_code of the current state once this file is applied.

    Snapshot: the file's loaded rows. Delta: `state` (the fold of earlier files,
    updated in place) with this file folded in.
    """
    if DATASETS[dataset_name].mode == "delta":
        rows = list(fold({} if state is None else state, path, dataset_name, encoding).values())
    else:
        rows = loaded(path, dataset_name, encoding)
    counts = Counter(r.values["division_code"] for r in rows)
    return dict(sorted(counts.items()))


def check_file(batch_dir: Path, entry: dict[str, Any]) -> str | None:
    """The file-level rejection reason for one manifest entry, or None."""
    path = batch_dir / entry["path"]
    if entry["dataset"] not in DATASETS:
        return "unknown_dataset"
    if not path.exists():
        return "file_missing"
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        return "sha256_mismatch"
    try:
        data.decode(_codec(entry["encoding"]))
    except UnicodeDecodeError:
        return "bad_encoding"
    header, recs = records(path, entry["encoding"])
    names = DATASETS[entry["dataset"]].column_names
    if len(set(header)) != len(header) or sorted(header) != sorted(names):
        return "bad_header"
    if len(recs) != entry["rows"]:
        return "row_count_mismatch"
    return None


def manifest(batch_dir: Path) -> dict[str, Any]:
    return json.loads((batch_dir / "manifest.json").read_text(encoding="utf-8"))
