"""Benchmark: `huiliu report` (基层一张表) for the largest village and town of a published warehouse.

Times the command as a worker runs it — a new process, start-up included — for the village and
the town with the most people in `person_ledger`, one template (高龄老人花名册, xlsx) and one
custom form of every visible person column (csv). Run after bench_pipeline.py (its database
`huiliu_bench`), or on any published database: `--database NAME`. The issue's target: a
village's form within 2 s at 1,000,000 people. Never asserted in a test.
Usage: python benchmarks/bench_forms.py [--database huiliu_bench] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from pipelines.warehouse import database_url, with_database

HUILIU = str(Path(sys.executable).parent / "huiliu")


def largest(url: str, prefix: str) -> tuple[str, int]:
    """The unit schema of `prefix` whose person_ledger holds the most rows (from the city's)."""
    width = 12 if prefix == "village_" else 9
    with psycopg.connect(url) as conn:
        code, n = conn.execute(
            "SELECT left(division_code, %s), count(*) FROM city.person_ledger "
            "WHERE %s = 9 OR right(division_code, 3) <> '000' GROUP BY 1 ORDER BY 2 DESC LIMIT 1",
            (width, width)).fetchone()
    return f"{prefix}{code}", n


def timed(url: str, args: list[str], repeat: int) -> tuple[float, str]:
    best, line = float("inf"), ""
    for _ in range(repeat):
        t = time.perf_counter()
        done = subprocess.run([HUILIU, "report", *args], capture_output=True, text=True,
                              env=os.environ | {"HUILIU_DATABASE_URL": url})
        seconds = time.perf_counter() - t
        if done.returncode != 0:
            raise SystemExit(f"huiliu report {' '.join(args)}: {done.stderr.strip()}")
        best, line = min(best, seconds), done.stdout.strip()
    return best, line


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", default="huiliu_bench")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    url = with_database(database_url(), args.database)
    people = ["name", "id_number", "gender", "age", "age_band", "division_code", "household_size", "tags"]
    with tempfile.TemporaryDirectory() as out:
        for prefix in ("village_", "town_"):
            unit, n = largest(url, prefix)
            for label, form in (
                ("高龄老人花名册 xlsx", ["--template", "aged_80_plus", "--out", f"{out}/{unit}.xlsx"]),
                ("every person, csv", ["--ledger", "person_ledger", "--columns", ",".join(people),
                                       "--out", f"{out}/{unit}.csv"]),
            ):
                seconds, line = timed(url, ["--unit", unit, *form], args.repeat)
                rows = line.rsplit(": ", 1)[-1].split(" rows")[0]
                print(f"report {unit} ({n:,} people) {label}: {seconds:.2f} s wall incl. process start "
                      f"(best of {args.repeat}), {rows} rows")


if __name__ == "__main__":
    main()
