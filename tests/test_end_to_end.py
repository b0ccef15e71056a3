"""A generated history through the real Definitions: reconciliation against the
generator's summary, out-of-order deltas, a late older snapshot, faulty files.

The modules's tests share one warehouse and run in order; each `huiliu run` is a real
Dagster run with a real dbt build.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from conftest import reset_warehouse

from pipelines.contract import DATASETS
from pipelines.generate import generate
from pipelines.runner import run_batch_date

PEOPLE, SEED = 1500, 11
D1, D2, D3, D4 = (dt.date(2026, 11, d) for d in (1, 2, 3, 4))
HUILIU = str(Path(sys.executable).parent / "huiliu")


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("landing")
    for day in (D1, D2, D3):
        generate(root, day, people=PEOPLE, seed=SEED)
    return root


@pytest.fixture(scope="module")
def db(warehouse_url):
    with psycopg.connect(warehouse_url, autocommit=True) as c:
        reset_warehouse(c)
        yield c


def summary(landing: Path, day: dt.date) -> dict:
    return json.loads((landing / "summary" / f"{day.isoformat()}.json").read_text())


def current_state(db: psycopg.Connection) -> dict[str, dict[str, int]]:
    state = {}
    for name in DATASETS:
        rows = db.execute(
            f"SELECT division_code, count(*) FROM intermediate.int_{name}__current GROUP BY 1"
        ).fetchall()
        state[name] = dict(rows)
    return state


def test_first_batch_reconciles_with_the_generators_summary(landing, db):
    report = run_batch_date(landing, D1)
    assert report.failure is None and not report.rejections
    files = db.execute(
        "SELECT file_id, source, dataset, rows_received, rows_loaded, rows_kept_aside "
        "FROM governance.batch_files WHERE batch_date = %s AND status = 'loaded'", (D1,)
    ).fetchall()
    assert len(files) == len(DATASETS)
    expected = summary(landing, D1)["files"]
    for file_id, source, dataset, received, loaded, kept in files:
        counted = db.execute(
            f"SELECT count(*) FROM staging.stg_{dataset} "
            "WHERE file_id = %s AND kept_aside_reason IS NULL", (file_id,)).fetchone()[0]
        assert counted == loaded, dataset  # counted from the staged rows, not derived
        assert loaded + kept == received == expected[f"{source}/{dataset}"]["rows"]
        reasons = dict(db.execute(
            "SELECT reason, count(*) FROM governance.kept_aside_rows WHERE file_id = %s "
            "GROUP BY reason", (file_id,)).fetchall())
        assert reasons == expected[f"{source}/{dataset}"]["kept_aside"], dataset
    assert current_state(db) == summary(landing, D1)["current_state"]


def test_kept_aside_rows_hold_no_raw_values(db):
    columns = {r[0] for r in db.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'governance' AND table_name = 'kept_aside_rows'").fetchall()}
    assert not columns & {"id_number", "name", "phone", "bank_account", "address", "value"}
    assert {"line_number", "reason", "column_name", "dataset", "delivery"} <= columns


def test_deltas_fold_in_date_order_whatever_the_arrival_order(landing, db):
    # D3 arrives before D2: after both, the state is that of D3 (deltas folded into
    # place; D2's older snapshots never override D3's).
    assert run_batch_date(landing, D3).failure is None
    assert run_batch_date(landing, D2).failure is None
    assert current_state(db) == summary(landing, D3)["current_state"]
    gaps = db.execute("SELECT count(*) FROM governance.delta_gaps").fetchone()[0]
    assert gaps == 0


def test_rerunning_a_date_changes_nothing(landing, db):
    before = db.execute("SELECT count(*), sum(rows_loaded) FROM governance.batch_files"
                        ).fetchone()
    state = current_state(db)
    assert run_batch_date(landing, D2).failure is None
    assert db.execute("SELECT count(*), sum(rows_loaded) FROM governance.batch_files"
                      ).fetchone() == before
    assert current_state(db) == state


def test_faulty_files_are_rejected_by_name_and_the_rest_loads(landing, db):
    generate(landing, D4, people=PEOPLE, seed=SEED, faulty_files=True)
    planted = summary(landing, D4)["rejected_files"]
    assert sorted(planted.values()) == sorted(
        ["sha256_mismatch", "bad_header", "bad_encoding", "row_count_mismatch"])
    result = subprocess.run([HUILIU, "run", "--landing", str(landing), "--date", D4.isoformat()],
                            capture_output=True, text=True, env=dict(os.environ), timeout=600)
    assert result.returncode == 2, result.stderr[-3000:]
    rows = db.execute("SELECT source || '/' || dataset, status, reason, rows_loaded, "
                      "rows_kept_aside FROM governance.batch_files WHERE batch_date = %s",
                      (D4,)).fetchall()
    rejected = {r[0]: r[2] for r in rows if r[1] == "rejected"}
    assert rejected == planted
    for name, reason in planted.items():
        path = name.split("/")[1] + ".csv"
        assert f"{path}: {reason}" in result.stderr  # named on stderr with its reason
        table = name.split("/")[1]
        ids = db.execute(
            f"SELECT count(*) FROM raw.{table} r JOIN governance.batch_files b "
            "USING (file_id) WHERE b.batch_date = %s", (D4,)).fetchone()[0]
        assert ids == 0  # nothing of a rejected file loaded
    loaded = [r for r in rows if r[1] == "loaded"]
    assert len(loaded) == len(DATASETS) - len(planted)
    assert all(r[3] > 0 for r in loaded)
    assert Counter(r[1] for r in rows) == {"loaded": 3, "rejected": 4}
