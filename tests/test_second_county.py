"""Another county onboarded end to end by configuration alone, on a PostgreSQL server of its own.

Its division list becomes a partitions.yaml (`huiliu topology from-divisions`, then `check`);
HUILIU_PARTITIONS points every command at it and HUILIU_STATE_DIR gives it a local server of
its own (roles are cluster-wide: a second county never shares a server's `city` and `dept_*`
roles). Then the same commands as for Shengzhou — generate, run, sql — with no code change:
the county publishes, every unit of it sees its own rows, and nothing of Shengzhou is there.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from support.divisions import another_county
from support.runs import HUILIU

from pipelines.contract import DATASETS
from pipelines.topology import load_topology

COUNTY, NAME = "339902", "示例二县"
DAY = dt.date(2026, 11, 1)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Path]]:
    root = tmp_path_factory.mktemp("second_county")
    partitions = root / "partitions.yaml"
    env = {k: v for k, v in os.environ.items() if k not in ("HUILIU_DATABASE_URL", "DAGSTER_HOME")} | {
        "HUILIU_STATE_DIR": str(root / "state"), "HUILIU_PARTITIONS": str(partitions),
        "HUILIU_TOKEN_KEY": "second-county-token-key-not-a-secret"}
    another_county(root / "divisions.csv", COUNTY, towns=3, villages=4)
    project = {k: v for k, v in env.items() if k != "HUILIU_PARTITIONS"}  # departments from the project's file
    for args, with_env in ((["topology", "from-divisions", str(root / "divisions.csv"), "--county", COUNTY,
                             "--name", NAME, "--out", str(partitions)], project), (["topology", "check"], env)):
        done = subprocess.run([HUILIU, *args], capture_output=True, text=True, env=with_env, timeout=60)
        assert done.returncode == 0, done.stderr
    try:
        yield env, root
    finally:
        subprocess.run([HUILIU, "db-stop"], capture_output=True, text=True, env=env, timeout=120)


def _huiliu(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HUILIU, *args], capture_output=True, text=True, env=env, timeout=900)


def test_another_county_generates_runs_and_publishes_on_its_own_server(county) -> None:
    env, root = county
    landing = root / "landing"
    generated = _huiliu(env, "generate", "--landing", str(landing), "--date", DAY.isoformat(),
                        "--people", "3000", "--seed", "3")
    assert generated.returncode == 0, generated.stderr
    run = _huiliu(env, "run", "--landing", str(landing), "--date", DAY.isoformat())
    assert run.returncode == 0, run.stderr[-3000:]
    assert "published version_000001" in run.stdout
    # the run's summary and its plain progress (no terminal: no escape codes), dbt's lines in the log only
    assert "\x1b[" not in run.stdout + run.stderr and "START sql table model" not in run.stderr
    assert "exit 0: everything published" in run.stdout and "try: make ui" in run.stdout
    assert re.search(r"^\d\d:\d\d:\d\d dbt models done \d+/\d+ in ", run.stderr, re.M), run.stderr[-2000:]
    log = root / "state" / "logs" / re.search(r"run_id=([0-9a-f-]{36})", run.stdout).group(1) / "run.log"
    assert "START sql table model" in log.read_text(encoding="utf-8")
    again = _huiliu(env, "run", "--landing", str(landing), "--date", DAY.isoformat(), "--json")
    summary = json.loads(again.stdout)
    assert again.returncode == summary["exit_code"] == 0 and summary["version"] == 2
    assert {d["dataset"] for d in summary["datasets"]} == set(DATASETS) and summary["gates"]["failed"] == []
    url = _huiliu(env, "db-url").stdout.strip()
    topology = load_topology(env["HUILIU_PARTITIONS"])
    assert (len(topology.towns), len(topology.villages)) == (3, 15)
    with psycopg.connect(url, autocommit=True) as db:
        schemas = {r[0] for r in db.execute("SELECT nspname FROM pg_namespace")}
        assert {u.schema for u in topology.units} | {"city"} <= schemas
        assert not any(s.startswith(("town_330683", "village_330683")) for s in schemas)
        mark = db.execute("SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = 'city'"
                          ).fetchone()[0]
        assert mark.startswith(f"huiliu: the unit roles of county {COUNTY}")
        total = db.execute("SELECT count(*) FROM city.household_registration").fetchone()[0]
        by_village = dict(db.execute("SELECT division_code, count(*) FROM city.household_registration "
                                     "GROUP BY 1").fetchall())
    assert total > 0 and set(by_village) <= {v.code for v in topology.villages} | {t.code + "000" for t in
                                                                                   topology.towns}
    seen = 0
    for v in topology.villages:
        got = _huiliu(env, "sql", "--unit", v.schema, "-c", "SELECT count(*) FROM household_registration")
        assert got.returncode == 0, got.stderr
        assert int(got.stdout.splitlines()[1]) == by_village.get(v.code, 0), v.schema
        seen += by_village.get(v.code, 0)
    assert seen > 0
    other = topology.villages[1].schema
    refused = _huiliu(env, "sql", "--unit", topology.villages[0].schema, "-c",
                      f"SELECT count(*) FROM {other}.household_registration")
    assert refused.returncode == 1 and "permission denied" in refused.stderr
