"""Runs of the expectation suites on several threads at once, each in a fresh process.

Run as a script by tests/test_gates_parameters.py: `python concurrent_gates.py PREFIX RUNS`,
the database in HUILIU_DATABASE_URL (never on a command line: it holds a password).
Great Expectations' state that could be shared between threads (its suite-parameter parser
learns its parse actions' arity on first use, per process) is only fresh in a new process,
so each run is one process: this script imports GX once (3 s), while single-threaded and
before any suite is validated, then forks one child per run, so every child starts with
GX's parser as untouched as a new interpreter's. Six callers, each on its own thread and connection, first
validate their relations with a suite without parameters (so GX is warm), then wait at a
barrier and validate them again at the same moment with `$PARAMETER` values, two workers
per caller. The verdict must be exactly the planted
one: one relation has one row too many for its `city_rows`, another holds a date after
`today`; every other suite passes. Prints the verdict as JSON; exit 0 when it is right.
"""

from __future__ import annotations

import datetime as dt
import faulthandler
import json
import os
import sys
import threading
from pathlib import Path

import psycopg

from pipelines.gates.expectations import Parameters, Suite, relations_of, validate_relations, warm_up
from pipelines.govern.policy import Policy

CALLERS, PER_CALLER = 6, 2
TODAY = dt.date(2026, 11, 1)
NO_POLICY = Policy([])  # the suites select no column by class
TOO_MANY, LATE = "city__race_4", "city__race_9"
# validated first, without parameters: GX's validator machinery, connections and reflection
# are warm, so after the barrier the callers reach the parameters within moments of each other
WARM = Suite("warm", Path("warm.json"), None, None, (
    {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},))
SUITE = Suite("race", Path("race.json"), None, None, (
    {"type": "expect_column_values_to_be_between",
     "kwargs": {"column": "on_day", "min_value": "2000-01-01", "max_value": {"$PARAMETER": "batch_date"}}},
    {"type": "expect_table_row_count_to_equal", "kwargs": {"value": {"$PARAMETER": "city_rows"}}},
))


def prepare(conn: psycopg.Connection, schema: str) -> dict[str, int]:
    """CALLERS × PER_CALLER small relations; returns each one's rows as its `city_rows`."""
    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    conn.execute(f'CREATE SCHEMA "{schema}"')
    rows = {}
    for i in range(CALLERS * PER_CALLER):
        name, n = f"city__race_{i}", 20 + i
        last = "2026-12-01" if name == LATE else "2026-10-31"
        conn.execute(f'CREATE TABLE "{schema}".{name} AS SELECT g AS n, '
                     f"date '{last}' - (g - 1) AS on_day FROM generate_series(1, {n}) g")
        rows[f"race_{i}"] = n - 1 if name == TOO_MANY else n
    return rows


def one_run(url: str, schema: str) -> int:
    faulthandler.dump_traceback_later(150, exit=True)  # a hang shows every thread's stack
    with psycopg.connect(url, autocommit=True) as conn:
        city_rows = prepare(conn, schema)
        relations = relations_of(conn, schema)
    params = Parameters(TODAY, [], [], city_rows)
    barrier = threading.Barrier(CALLERS)
    verdicts: dict[str, bool] = {}
    errors: list[str] = []

    def caller(k: int) -> None:
        mine = relations[k * PER_CALLER:(k + 1) * PER_CALLER]
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                validate_relations(conn, mine, params, policy=NO_POLICY, suites=[WARM], workers=PER_CALLER)
                barrier.wait(timeout=60)
                for result in validate_relations(conn, mine, params, policy=NO_POLICY, suites=[SUITE],
                                                 workers=PER_CALLER):
                    verdicts[result.name] = result.passed
                    if "could not validate" in result.summary:
                        errors.append(result.summary)
        except Exception as exc:  # the verdict is then incomplete, and the others must not wait
            errors.append(f"caller {k}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
            barrier.abort()

    sys.setswitchinterval(1e-6)  # interleave the threads as often as the interpreter can
    threads = [threading.Thread(target=caller, args=(k,)) for k in range(CALLERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    failed = sorted(name for name, passed in verdicts.items() if not passed)
    expected = sorted(f"race@{name}" for name in (TOO_MANY, LATE))
    print(json.dumps({"schema": schema, "validated": len(verdicts), "failed": failed, "errors": errors[:2]}),
          flush=True)
    return 0 if failed == expected and len(verdicts) == len(relations) else 1


def main(url: str, prefix: str, runs: int) -> int:
    """Fork `runs` children one after the other; exit 0 when every one gave the planted verdict."""
    warm_up()  # imports GX; validates nothing, so its parser is not built yet
    if threading.active_count() != 1:
        raise RuntimeError("only a single-threaded process may fork")
    wrong = 0
    for k in range(runs):
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 2
            try:
                code = one_run(url, f"{prefix}_{k}")
            finally:
                sys.stdout.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        wrong += os.waitstatus_to_exitcode(status) != 0
    print(json.dumps({"runs": runs, "wrong": wrong}), flush=True)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(os.environ["HUILIU_DATABASE_URL"], sys.argv[1], int(sys.argv[2])))
