"""The floor: the same delivered files COPY'd into UNLOGGED tables of text columns, nothing else.

It is what loading the bytes costs on this server, measured in the same run as the pipeline so
the ratio survives a noisy machine. A file whose records are not all plain CSV of the header's
width (the project's generator plants such rows) is loaded one physical line per row instead,
decoded and escaped in Python (a little dearer than the floor proper; contract-valid batches
never take that path); `lines_fallback` says how many files did.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

SCHEMA = "bench_floor"
CHUNK = 8 << 20
PG_ENCODING = {"utf-8": "UTF8", "utf8": "UTF8", "gb18030": "GB18030", "gbk": "GBK"}
NEVER = "\x01"  # the delimiter of the line-per-row form: a byte no delivery holds


@dataclass
class Floor:
    seconds: float = 0.0
    files: int = 0
    rows: int = 0
    bytes: int = 0
    lines_fallback: int = 0

    def as_json(self) -> dict:
        return dict(self.__dict__)


def batch_files(landing: Path, days: list[str]) -> list[tuple[Path, str]]:
    """Every file the manifests of those days name, with its encoding."""
    out = []
    for manifest in sorted(landing.glob("*/*/manifest.json")):
        if manifest.parent.name not in days:
            continue
        for entry in json.loads(manifest.read_text(encoding="utf-8"))["files"]:
            out.append((manifest.parent / entry["path"], str(entry["encoding"]).lower()))
    return out


def _copy(conn: psycopg.Connection, table: sql.Composed, path: Path, options: sql.Composable,
          encoding: str | None = None) -> int:
    """COPY the file's bytes; with `encoding`, as lines decoded and escaped for COPY's text format."""
    with conn.cursor() as cur:
        with cur.copy(sql.SQL("COPY {} FROM STDIN WITH ({})").format(table, options)) as copy, \
                path.open("rb") as f:
            if encoding is None:
                while chunk := f.read(CHUNK):
                    copy.write(chunk)
            else:
                text = f.read().decode(encoding, errors="replace").replace("\\", "\\\\")
                copy.write(text.replace("\r\n", "\n").replace("\r", "\\r").encode())
        return cur.rowcount


def measure_floor(url: str, landing: Path, days: list[str]) -> Floor:
    """COPY every file of those days into its own UNLOGGED table; the wall time of all of it."""
    floor = Floor()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}").format(
            sql.Identifier(SCHEMA)))
        for i, (path, encoding) in enumerate(batch_files(landing, days)):
            enc = sql.Literal(PG_ENCODING.get(encoding, "UTF8"))
            with path.open("rb") as f:
                width = len(f.readline().decode(encoding, errors="replace").split(","))
            table = sql.Identifier(SCHEMA, f"f{i}")
            cols = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(f"c{j}")) for j in range(width))
            started = time.perf_counter()
            conn.execute(sql.SQL("CREATE UNLOGGED TABLE {} ({})").format(table, cols))
            try:
                with conn.transaction():
                    rows = _copy(conn, table, path, sql.SQL("FORMAT csv, HEADER true, ENCODING {}").format(enc))
            except psycopg.errors.DataError:  # a planted malformed record: one line per row instead
                conn.execute(sql.SQL("DROP TABLE {0}; CREATE UNLOGGED TABLE {0} (line text)").format(table))
                options = sql.SQL("FORMAT text, DELIMITER {}, ENCODING 'UTF8'").format(sql.Literal(NEVER))
                rows = _copy(conn, table, path, options, encoding=encoding)
                floor.lines_fallback += 1
            floor.seconds += time.perf_counter() - started
            floor.files += 1
            floor.rows += rows
            floor.bytes += path.stat().st_size
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(SCHEMA)))
    return floor
