"""A generated history through the real Definitions: reconciliation against the
generator's summary, out-of-order deltas, a late older snapshot, faulty files.

The modules's tests share one warehouse and run in order; each `huiliu run` is a real
Dagster run with a real dbt build.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from support.db import reset_warehouse
from support.faults import PLANTED_ID, TOWN_HR, town_tier_corrupted

from huiliu_dev.generate import generate
from pipelines.contract import DATASETS
from pipelines.derived import RELATIONS
from pipelines.runner import run_batch_date
from pipelines.tables import table_markdown

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
    # and in the data: no kept-aside row holds any personal value of the raw record it stands for
    leaked = found = 0
    for name in ("household_registration", "elderly_subsidy", "floating_population"):
        personal = [f"r.{c}" for c in ("id_number", "name", "phone", "bank_account", "address",
                                       "residence_address") if c in DATASETS[name].column_names]
        n, bad = db.execute(
            "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM unnest(ARRAY["
            + ", ".join(personal) + "]) v WHERE length(v) >= 2 AND strpos(k::text, v) > 0)) "
            f"FROM governance.kept_aside_rows k JOIN raw.{name} r ON r.file_id = k.file_id "
            "AND r.line_number = k.line_number WHERE k.dataset = %s", (name,)).fetchone()
        found += n
        leaked += bad
    assert found > 10 and leaked == 0


def test_the_protected_layer_is_read_by_the_pipeline_only(db):
    """protected.prot_* hold clear identity numbers beside their tokens: no unit, not the auditor."""
    tables = {r[0] for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'protected'")}
    assert tables == {f"prot_{d}" for d in RELATIONS} | {  # the datasets, ledgers, topics and warnings …
        "prot_screening_hits", "prot_warning_ids", "warning_state"}  # … with the warnings' hits, ids and state
    columns = {r[0] for r in db.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'protected' AND table_name = 'prot_household_registration'")}
    assert {"id_number", "id_number_token"} <= columns
    roles = db.execute("SELECT count(*) FROM pg_roles WHERE rolname ~ '^(city|dept_|town_|village_|auditor)'"
                       ).fetchone()[0]
    assert roles > 300  # the publish created the units' roles
    readers = db.execute(
        "SELECT rolname FROM pg_roles WHERE rolname ~ '^(city|dept_|town_|village_|auditor)' "
        "AND (has_schema_privilege(pg_roles.oid, 'protected', 'USAGE') OR EXISTS ("
        "     SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "     WHERE n.nspname = 'protected' AND has_table_privilege(pg_roles.oid, c.oid, 'SELECT')))"
    ).fetchall()
    assert readers == []
    assert not db.execute("SELECT has_schema_privilege('public', 'protected', 'USAGE')").fetchone()[0]


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


# --- a corrupted town tier inside a real run: the gates refuse the publish ---------------------


@pytest.fixture
def corrupting_town_tier(db):
    with town_tier_corrupted(db):
        yield


def published_state(db: psycopg.Connection) -> tuple:
    log = db.execute("SELECT count(*), max(version) FROM governance.publish_log").fetchone()
    views = db.execute(
        "SELECT count(*) FROM published.town__household_registration").fetchone()
    return log, views


def test_a_corrupted_town_tier_fails_its_gates_and_nothing_is_published(
        landing, db, corrupting_town_tier, tmp_path):
    before = published_state(db)
    assert before[0][0] >= 1  # the runs above published
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path))  # a persistent instance to read the checks from
    result = subprocess.run([HUILIU, "run", "--landing", str(landing), "--date", D1.isoformat()],
                            capture_output=True, text=True, env=env, timeout=900)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out[-3000:]
    assert not db.execute("SELECT armed FROM gates_fault.armed").fetchone()[0]  # the fault did fire
    assert PLANTED_ID not in out and PLANTED_ID[:14] not in out  # named, never shown
    version = db.execute("SELECT max(version) FROM governance.publish_log").fetchone()[0] + 1
    relation = f"version_{version:06d}.{TOWN_HR}"
    for expectation in ("expect_column_values_to_not_match_regex(relation_to_head)",
                        "expect_query_to_return_no_rows:rows_agree_with_city",
                        "expect_column_values_to_be_unique(id_number_token)"):
        assert re.search(rf"{re.escape(relation)} \| {re.escape(expectation)} \|", result.stderr), expectation
    assert "nothing published" in result.stderr and "publish refused" in result.stderr
    assert published_state(db) == before  # same version, same rows behind the published views
    assert db.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s",
                      (f"version_{version:06d}",)).fetchone()[0] == 0  # the refused build is gone

    # What the UI shows: the town tier's blocking check failed, naming the expectations.
    import dagster as dg

    # The corrupted rows are the town's table, or the table its twin view reads: every audience
    # reading that table fails with them, by its own relation's name; any other tier passes.
    sharing = {r for (r,) in db.execute(
        "SELECT relation FROM governance.tier_bodies WHERE physical = "
        "(SELECT physical FROM governance.tier_bodies WHERE relation = %s)", (TOWN_HR,))}
    assert TOWN_HR in sharing
    for twin in sharing - {TOWN_HR}:
        assert f"version_{version:06d}.{twin} | expect_column_values_to_be_unique(id_number_token) |" \
            in result.stderr, twin
    tier_of = {"city": "city", "granted": "department", "owner": "department",
               "clear_names": "department", "town": "town", "village": "village"}
    corrupted = {tier_of[r.split("__")[0]] for r in sharing}
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        keys = {tier: dg.AssetCheckKey(dg.AssetKey(["tiers", tier]), "quality_gates")
                for tier in ("city", "department", "town", "village")}
        records = {tier: instance.event_log_storage.get_asset_check_execution_history(k, limit=1)
                   for tier, k in keys.items()}
    evaluation = {k: r[0].event.dagster_event.event_specific_data for k, r in records.items()}
    assert {tier for tier, e in evaluation.items() if not e.passed} == corrupted
    table = table_markdown(evaluation["town"].metadata["failures"])
    assert "expect_column_values_to_be_unique(id_number_token)" in table and relation in table
    assert PLANTED_ID not in table
