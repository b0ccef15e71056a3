"""The suites' `$PARAMETER`s are resolved by the gate: the same verdict whatever the threads do.

Each run is a fresh process (tests/support/concurrent_gates.py forks one per run from a
parent that imported GX and validated nothing): six warmed-up callers behind a barrier
validate twelve relations with `$PARAMETER` values at once, two workers each. The verdict
must be exactly the two planted failures in every one of 20 runs. Great Expectations' own
suite-parameter parser is not thread-safe (pyparsing learns each parse action's arity on its
first call, per process); on the code before the gate resolved the parameters itself, 7, 13
and 9 of 20 runs (three tries) failed suites with a TypeError.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from pipelines.gates.expectations import (
    ParameterError,
    Parameters,
    Suite,
    relations_of,
    resolve_parameters,
    validate_relations,
)
from pipelines.govern.policy import Policy

RUNS = 20
CHILD = Path(__file__).resolve().parent / "support" / "concurrent_gates.py"


@pytest.mark.slow
def test_suites_on_many_threads_give_the_planted_verdict_in_every_fresh_process(warehouse_url: str) -> None:
    proc = subprocess.run([sys.executable, str(CHILD), f"gates_race_{os.getpid()}", str(RUNS)],
                          env={**os.environ, "HUILIU_DATABASE_URL": warehouse_url}, capture_output=True,
                          text=True, timeout=900)
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    runs = [r for r in lines if "schema" in r]
    wrong = [r for r in runs if r["failed"] != ["race@city__race_4", "race@city__race_9"] or r["errors"]]
    assert lines and lines[-1] == {"runs": RUNS, "wrong": 0}, (
        f"{len(wrong)} of {RUNS} runs gave another verdict; first: {wrong[:1]} {proc.stderr[-3000:]}")
    assert len(runs) == RUNS and proc.returncode == 0
    assert all(r["validated"] == 12 for r in runs)


def test_parameters_are_replaced_by_the_runs_values_and_unknown_ones_are_refused() -> None:
    cfg = {"type": "expect_column_values_to_be_between",
           "kwargs": {"column": "paid_on", "min_value": "2000-01-01", "max_value": {"$PARAMETER": "today"}},
           "meta": {"huiliu": {"suite": "dataset.elderly_subsidy"}}}
    assert resolve_parameters(cfg, {"today": "2026-11-01"})["kwargs"] == {
        "column": "paid_on", "min_value": "2000-01-01", "max_value": "2026-11-01"}
    for name in ("yesterday", "today - 1", ["today"]):
        cfg["kwargs"]["max_value"] = {"$PARAMETER": name}
        with pytest.raises(ParameterError, match=r"dataset\.elderly_subsidy: expect_column_values_to_be_between"
                                                 r"\.max_value names \$PARAMETER"):
            resolve_parameters(cfg, {"today": "2026-11-01"})


def test_a_suite_naming_an_unknown_parameter_fails_its_relation_closed(warehouse_url: str) -> None:
    suite = Suite("typo", Path("typo.json"), None, None, (
        {"type": "expect_table_row_count_to_equal", "kwargs": {"value": {"$PARAMETER": "city_row"}}},))
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS gates_typo CASCADE; CREATE SCHEMA gates_typo")
        conn.execute("CREATE TABLE gates_typo.city__typo AS SELECT 1 AS n")
        try:
            (result,) = validate_relations(conn, relations_of(conn, "gates_typo"),
                                           Parameters(dt.date(2026, 11, 1), [], [], {"typo": 1}),
                                           policy=Policy([]), suites=[suite])
        finally:
            conn.execute("DROP SCHEMA gates_typo CASCADE")
    assert not result.passed and result.name == "typo@city__typo"
    assert "names $PARAMETER 'city_row', not one of batch_date, " in result.summary
    assert "city_rows" in result.summary
