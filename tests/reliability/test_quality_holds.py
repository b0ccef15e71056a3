"""One bad row never stops the county; a dataset that collapses keeps what it published.

A generated history in a database of its own, each day through `huiliu run` (a real Dagster
run, a real dbt build), with one file of the day rewritten the way a foreign exporter would
write it: a contract-valid payment dated after its batch date, a header-only snapshot, a
dataset where 3 % of the rows fail a value expectation (on the night the operator accepts a
second header-only snapshot: one run, two faults). The tests run in order.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from support.batchkit import rewrite
from support.runs import HUILIU, fresh_databases, huiliu_env

from huiliu_dev.generate import generate
from pipelines.contract import DATASETS, id_check_char
from pipelines.tables import table_markdown

PEOPLE, SEED = 3100, 23  # about 3,000 household rows, as the header-only case describes
D1, D2, D3, D4 = (dt.date(2026, 11, d) for d in (1, 2, 3, 4))
OTHERS = [d for d in DATASETS if d != "elderly_subsidy"]


@pytest.fixture(scope="module")
def url(warehouse_url: str) -> Iterator[str]:
    with fresh_databases(warehouse_url, "holds") as (one,):
        yield one


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("holds_landing")
    for day in (D1, D2, D3, D4):
        generate(root, day, people=PEOPLE, seed=SEED)
    return root


def run(url: str, landing: Path, day: dt.date, *extra: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([HUILIU, "run", "--landing", str(landing), "--date", day.isoformat(), *extra],
                          capture_output=True, text=True, env=huiliu_env(url, **env), timeout=900)


def check_evaluations(home: Path, stdout: str) -> dict[str, list]:
    """The asset check evaluations of the run named in `huiliu run`'s summary, by check name."""
    run_id = re.search(r"run_id=([0-9a-f-]{36})", stdout).group(1)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        events = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    out: dict[str, list] = {}
    for e in events:
        evaluation = e.dagster_event.event_specific_data
        out.setdefault(evaluation.check_name, []).append(evaluation)
    return out


def _clean_payment(header: list[str], row: list[str]) -> bool:
    """A row no row rule keeps aside: plain formats, a valid identity number (the key's uniqueness
    is judged by the caller)."""
    if len(row) != len(header):
        return False
    v = dict(zip(header, row, strict=True))
    ident = v["id_number"]
    plain = {"id_number": r"[0-9]{17}[0-9X]", "division_code": r"330683[0-9]{6}",
             "paid_on": r"[0-9]{4}-[0-9]{2}-[0-9]{2}", "period": r"[0-9]{4}-[0-9]{2}",
             "amount": r"[0-9]+(\.[0-9]+)?", "updated_at": r".+"}
    return (all(re.fullmatch(p, v[c]) for c, p in plain.items())
            and id_check_char(ident[:17]) == ident[17] and v.get("op", "I") in ("I", "U"))


def paid_late(day: dt.date, count: int, chosen: list[tuple[str, str]]):
    """A change(): `count` clean payments get a paid_on 5 days after the batch date."""
    def change(header: list[str], rows: list[list[str]]) -> list[list[str]]:
        at, key = header.index("paid_on"), [header.index("id_number"), header.index("period")]
        seen: dict[tuple, int] = {}
        for r in rows:
            seen[tuple(r[k] for k in key)] = seen.get(tuple(r[k] for k in key), 0) + 1
        clean = [r for r in rows if _clean_payment(header, r) and seen[tuple(r[k] for k in key)] == 1]
        for row in clean[:count]:
            row[at] = (day + dt.timedelta(days=5)).isoformat()  # before the wall clock: only the batch date
            # catches it
            chosen.append((row[header.index("id_number")], row[header.index("period")]))
        assert len(chosen) == count, "the generated file has too few clean payments"
        return rows
    return change


def city_rows(db: psycopg.Connection) -> dict[str, int]:
    return {d: db.execute(f"SELECT count(*) FROM city.{d}").fetchone()[0] for d in DATASETS}


def current_rows(db: psycopg.Connection, dataset: str) -> int:
    return db.execute(f"SELECT count(*) FROM intermediate.int_{dataset}__current").fetchone()[0]


def last_publish(db: psycopg.Connection) -> tuple:
    return db.execute("SELECT version, held, dataset_dates, batch_dates FROM governance.publish_log "
                      "ORDER BY publish_id DESC LIMIT 1").fetchone()


def test_first_day_publishes(url, landing):
    result = run(url, landing, D1)
    assert result.returncode == 0, result.stderr[-3000:]
    with psycopg.connect(url, autocommit=True) as db:
        assert 2900 <= city_rows(db)["household_registration"] <= 3100


def test_one_late_payment_is_kept_aside_and_everything_else_publishes(url, landing):
    chosen: list[tuple[str, str]] = []
    rewrite(landing, "city", D2, "elderly_subsidy", paid_late(D2, 1, chosen))
    result = run(url, landing, D2)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "published version_000002" in result.stdout
    assert "elderly_subsidy: paid_on_in_range (paid_on): 1 row(s)" in result.stdout
    with psycopg.connect(url, autocommit=True) as db:
        (ident, period), = chosen
        kept = db.execute(
            "SELECT k.reason, k.column_name, b.rows_received, b.rows_loaded, b.rows_kept_aside, "
            "k.line_number "
            "FROM governance.kept_aside_rows k JOIN governance.batch_files b USING (file_id) "
            "WHERE b.batch_date = %s AND b.dataset = 'elderly_subsidy' AND k.reason LIKE 'quality:%%'",
            (D2,)).fetchall()
        assert [(r[0], r[1]) for r in kept] == [("quality:paid_on_in_range", "paid_on")]
        received, loaded, aside, line = kept[0][2:]
        # where it is, and its shape: the operator finds the row in the file, no value is shown
        assert f"e.g. city/{D2}/elderly_subsidy.csv line {line}: '9999-99-99'" in result.stdout
        late = (D2 + dt.timedelta(days=5)).isoformat()
        assert all(v not in result.stdout + result.stderr for v in (late, ident, ident[6:14]))
        assert received == loaded + aside  # the quality row is counted as kept aside
        version, held, dates, batch_dates = last_publish(db)
        assert (version, held) == (2, {})
        assert D2 in batch_dates and dates["elderly_subsidy"][-1] == D2.isoformat()
        rows = city_rows(db)
        assert rows["elderly_subsidy"] == current_rows(db, "elderly_subsidy") - 1
        for d in OTHERS:  # the six other datasets publish their new state
            assert rows[d] == current_rows(db, d), d
        # the subject is absent from every tier, its previous payment of that period not carried over
        owner = db.execute("SELECT count(*) FROM dept_mzj.elderly_subsidy WHERE id_number = %s AND period = %s",
                           (ident, period)).fetchone()[0]
        assert owner == 0
        assert db.execute("SELECT count(*) FROM intermediate.int_elderly_subsidy__current "
                          "WHERE id_number = %s AND period = %s", (ident, period)).fetchone()[0] == 1


def test_a_header_only_snapshot_keeps_the_published_rows_and_the_rest_publishes(url, landing):
    with psycopg.connect(url, autocommit=True) as db:
        before = city_rows(db)["household_registration"]
    rewrite(landing, "province", D3, "household_registration", lambda _h, _rows: [])
    result = run(url, landing, D3)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "held: household_registration" in result.stderr
    assert "--accept-drop household_registration" in result.stderr
    with psycopg.connect(url, autocommit=True) as db:
        version, held, dates, _ = last_publish(db)
        assert version == 3 and held["household_registration"]["cause"] == "volume"
        assert city_rows(db)["household_registration"] == before
        assert dates["household_registration"] == [D2.isoformat()]  # what the held state holds
        assert dates["social_insurance"][-1] == D3.isoformat()
        assert city_rows(db)["social_insurance"] == current_rows(db, "social_insurance")
        assert db.execute("SELECT count(*) FROM town_330683100.household_registration").fetchone()[0] > 0


@dataclass
class FourthNight:
    """One night with two faults: the household snapshot header-only again (the operator accepts
    the drop this time) and 3 % of the payments dated after the batch date."""

    result: subprocess.CompletedProcess
    home: Path
    subsidy_before: int
    bad: int


@pytest.fixture(scope="module")
def fourth_night(url, landing, tmp_path_factory) -> FourthNight:
    with psycopg.connect(url, autocommit=True) as db:
        before = city_rows(db)["elderly_subsidy"]
        bad = max(5, int(0.03 * current_rows(db, "elderly_subsidy")))
    rewrite(landing, "province", D4, "household_registration", lambda _h, _rows: [])
    rewrite(landing, "city", D4, "elderly_subsidy", paid_late(D4, bad, []))
    home = tmp_path_factory.mktemp("dagster_home")  # a kept instance, to read the run's asset checks back
    result = run(url, landing, D4, "--accept-drop", "household_registration", DAGSTER_HOME=str(home))
    return FourthNight(result, home, before, bad)


def test_an_accepted_drop_publishes_and_is_recorded(url, fourth_night):
    assert "held: household_registration" not in fourth_night.result.stderr
    with psycopg.connect(url, autocommit=True) as db:
        assert city_rows(db)["household_registration"] == 0
        assert "household_registration" not in last_publish(db)[1]
        accepted = db.execute("SELECT dataset, rows_after, rows_before > 2900 FROM governance.accepted_drops"
                              ).fetchall()
        assert accepted == [("household_registration", 0, True)]


def test_a_dataset_over_its_value_threshold_is_held_and_the_rest_publishes(url, fourth_night):
    result, home, before, bad = (fourth_night.result, fourth_night.home, fourth_night.subsidy_before,
                                 fourth_night.bad)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "held: elderly_subsidy" in result.stderr and "threshold" in result.stderr
    checks = check_evaluations(home, result.stdout)
    (value,) = checks["value_quality"]  # warns, with both what was kept aside and what was held
    assert not value.passed and value.severity == dg.AssetCheckSeverity.WARN
    assert value.metadata["rows kept aside"].value == bad
    kept_by = table_markdown(value.metadata["kept aside by"])
    assert "paid_on_in_range" in kept_by and f"city/{D4}/elderly_subsidy.csv line " in kept_by
    assert "'9999-99-99'" in kept_by and (D4 + dt.timedelta(days=5)).isoformat() not in kept_by
    assert "| elderly_subsidy | value_quality |" in table_markdown(value.metadata["datasets held"])
    assert checks["quality_gates"] and all(c.passed for c in checks["quality_gates"])  # nothing blocked
    with psycopg.connect(url, autocommit=True) as db:
        version, held, _, _ = last_publish(db)
        assert held["elderly_subsidy"]["cause"] == "value_quality"
        assert city_rows(db)["elderly_subsidy"] == before
        kept = db.execute("SELECT count(*) FROM governance.kept_aside_rows k JOIN governance.batch_files b "
                          "USING (file_id) WHERE b.batch_date = %s AND k.reason = 'quality:paid_on_in_range'",
                          (D4,)).fetchone()[0]
        assert kept == bad
        assert city_rows(db)["social_insurance"] == current_rows(db, "social_insurance")


def test_the_raw_assets_plot_each_batch_dates_rows_received_loaded_and_kept_aside(url, fourth_night):
    """The night's counts reach each raw dataset's asset page as numbers on the batch date's partition
    (what Dagster plots across dates), equal to governance.batch_files — the payments held back by
    their value expectation counted as kept aside, not loaded."""
    run_id = re.search(r"run_id=([0-9a-f-]{36})", fourth_night.result.stdout).group(1)
    with dg.DagsterInstance.from_config(str(fourth_night.home)) as instance:
        events = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_OBSERVATION)
    seen = {}
    for e in events:
        observation = e.dagster_event.event_specific_data.asset_observation
        seen[(observation.asset_key.path[1], observation.partition)] = {
            k: v.value for k, v in observation.metadata.items()}
    with psycopg.connect(url, autocommit=True) as db:
        rows = db.execute(
            "SELECT dataset, sum(rows_received) FILTER (WHERE status <> 'superseded'), "
            "sum(rows_loaded) FILTER (WHERE status = 'loaded'), "
            "sum(rows_kept_aside) FILTER (WHERE status = 'loaded'), "
            "count(*) FILTER (WHERE status = 'rejected') "
            "FROM governance.batch_files WHERE batch_date = %s GROUP BY 1", (D4,)).fetchall()
    names = ("rows received", "rows loaded", "rows kept aside", "files rejected")
    expected = {(r[0], D4.isoformat()): dict(zip(names, r[1:], strict=True)) for r in rows}
    assert seen == expected
    assert set(DATASETS) == {d for d, _ in seen}
    assert seen[("elderly_subsidy", D4.isoformat())]["rows kept aside"] >= fourth_night.bad
