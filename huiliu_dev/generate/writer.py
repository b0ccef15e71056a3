"""CSV files and manifests on disk, written so that a half-written batch is never complete.

Each file is streamed into a hidden temporary name beside its target and renamed into
place when closed; manifest.json is renamed into place last, so a reader that waits for
the manifest never sees a partial batch. Formatting choices (encoding, BOM, line ends,
quoting, column order) are per file, as real exports differ.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huiliu_dev.generate.faults import Planted
from huiliu_dev.generate.rows import Block
from pipelines.contract import Dataset

_EXTRA_FIELDS = ("备注", "")


@dataclass(frozen=True)
class FileSpec:
    """How one dataset's file is laid out in the batch."""

    dataset: Dataset
    order: tuple[int, ...]  # contract column indices, in file order (a dropped one left out)
    codec: str = "utf-8"  # Python codec used for the bytes ('utf-8-sig' writes a BOM)
    declared: str = "utf-8"  # what the manifest says
    line_end: str = "\n"
    quote_all: bool = False
    final_newline: bool = True

    @property
    def header(self) -> list[str]:
        return [self.dataset.column_names[i] for i in self.order]


class CsvFile:
    """A streamed CSV file: blocks of valid rows with planted rows spliced in."""

    def __init__(self, path: Path | None, spec: FileSpec) -> None:
        self.path = path
        self.spec = spec
        self.rows = 0
        self._tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp") if path else None
        raw = open(self._tmp, "wb") if self._tmp else open(os.devnull, "wb")  # noqa: SIM115
        self._text = io.TextIOWrapper(raw, encoding=spec.codec, newline="")
        quoting = csv.QUOTE_ALL if spec.quote_all else csv.QUOTE_MINIMAL
        self._csv = csv.writer(self._text, lineterminator=spec.line_end, quoting=quoting)
        self._csv.writerow(spec.header)

    def _planted(self, p: Planted) -> list[str]:
        row = [p.row[i] for i in self.spec.order]
        if p.fc > 0:
            row.append(_EXTRA_FIELDS[self.rows % 2])
        elif p.fc < 0:
            row.pop()
        return row

    def write(self, block: Block, planted: list[tuple[int, Planted]]) -> None:
        cols = [block.columns[i] for i in self.spec.order]
        start = 0
        for pos, p in sorted(planted, key=lambda item: item[0]):
            if pos > start:
                self._csv.writerows(zip(*(c[start:pos] for c in cols), strict=True))
                start = pos
            self._csv.writerow(self._planted(p))
            self.rows += 1
        if start < len(block):
            self._csv.writerows(zip(*(c[start:] for c in cols), strict=True))
        self.rows += len(block)

    def abort(self) -> None:
        """Drop a file that will not be finished (its target name is never touched)."""
        self._text.close()
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)

    def close(self) -> str | None:
        """Finish the file, move it into place; returns its sha256 (None when dry)."""
        self._text.flush()
        raw = self._text.buffer
        if not self.spec.final_newline and self.rows and self._tmp:
            raw.seek(0, io.SEEK_END)
            raw.truncate(raw.tell() - len(self.spec.line_end))
        self._text.close()
        if self.path is None or self._tmp is None:
            return None
        os.replace(self._tmp, self.path)
        return sha256_of(self.path)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json(path: Path, doc: Any) -> None:
    """Atomically (write, then rename) a JSON document."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def tamper(path: Path) -> None:
    """Change one digit near the end of a UTF-8 file (its manifest sha256 then lies)."""
    with open(path, "r+b") as f:
        f.seek(0, io.SEEK_END)
        size = f.tell()
        start = max(0, size - 256)
        f.seek(start)
        tail = f.read()
        for i in range(len(tail) - 1, -1, -1):
            if 0x30 <= tail[i] <= 0x39:
                f.seek(start + i)
                f.write(bytes([0x30 + (tail[i] - 0x30 + 1) % 10]))
                return
    raise ValueError("no digit to tamper with")
