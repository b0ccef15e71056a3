"""`--profile`: where the time goes, in the database (per statement) and in Python.

The database side turns on `log_min_duration_statement = 0` for the benchmark's own database
only, with `log_parameter_max_length = 0` (no bind value reaches the log: the token key travels
as one), and sums the local server's csvlog by statement shape (literals folded). Python's side
is cProfile of this process (dbt and Dagster's subprocesses are their own; their statements are
in the database side).
"""

from __future__ import annotations

import cProfile
import csv
import io
import pstats
import re
import sys
from collections import defaultdict
from pathlib import Path

import psycopg
from psycopg import sql

from pipelines.localdb import PG_DIR

_DURATION = re.compile(r"^duration: ([0-9.]+) ms  (?:statement|execute [^:]*): (.*)$", re.S)
_LITERALS = re.compile(r"'(?:[^']|'')*'|\b[0-9]+\b")
MESSAGE, DATABASE = 13, 2  # csvlog columns


def enable_statement_log(admin_url: str, database: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for setting, value in (("log_min_duration_statement", "0"), ("log_parameter_max_length", "0"),
                               ("log_min_error_statement", "panic")):
            conn.execute(sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                sql.Identifier(database), sql.Identifier(setting), sql.Literal(value)))


def log_position() -> dict[Path, int]:
    """Where each csvlog file ends now: the night's statements are what is appended after."""
    return {p: p.stat().st_size for p in (PG_DIR / "data" / "log").glob("*.csv")}


def statement_profile(database: str, since: dict[Path, int], top: int = 30) -> list[dict]:
    """Statements of `database` logged after `since` (log_position), by shape: calls, total ms."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    csv.field_size_limit(sys.maxsize)
    for path in sorted((PG_DIR / "data" / "log").glob("*.csv")):
        with path.open("rb") as raw:
            raw.seek(since.get(path, 0))
            data = raw.read().decode("utf-8", errors="replace")
        if data:
            for row in csv.reader(io.StringIO(data, newline="")):
                if len(row) <= MESSAGE or row[DATABASE] != database:
                    continue
                m = _DURATION.match(row[MESSAGE])
                if not m:
                    continue
                shape = _LITERALS.sub("?", " ".join(m.group(2).split()))[:200]
                totals[shape][0] += 1
                totals[shape][1] += float(m.group(1))
    ranked = sorted(totals.items(), key=lambda kv: -kv[1][1])[:top]
    return [{"statement": s, "calls": int(c), "total_s": round(ms / 1000, 2)} for s, (c, ms) in ranked]


class PythonProfile:
    """cProfile around the run; `top()` the functions with the most cumulative time."""

    def __init__(self) -> None:
        self._profile = cProfile.Profile()

    def __enter__(self) -> PythonProfile:
        self._profile.enable()
        return self

    def __exit__(self, *exc: object) -> None:
        self._profile.disable()

    def top(self, n: int = 30) -> str:
        out = io.StringIO()
        pstats.Stats(self._profile, stream=out).sort_stats("cumulative").print_stats(n)
        return out.getvalue()


def write(path: Path, statements: list[dict], python: str) -> None:
    lines = ["# where the time went", "", "## database, by statement shape (total s, calls)", ""]
    lines += [f"- {s['total_s']:>8.2f} s  {s['calls']:>6}×  `{s['statement']}`" for s in statements]
    lines += ["", "## python (this process, cumulative)", "", "```", python, "```"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
