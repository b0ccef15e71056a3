"""The expectation suites (expectations/*.json) on a real small build, clean and corrupted.

A generated batch of 1,500 people runs through the real Definitions (ingest, dbt build of
every tier) in a database of this module's own; a version is built from the tiers the way the
publish builds it. Every suite must pass on it. Then copies of the town tier are corrupted one
way each (a clear identity number in a text column, a row moved to another town's division, a
duplicated key) and the matching expectation must fail, named with its relation, and no
planted value may appear in any result or in the report.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from huiliu_dev.generate import generate
from pipelines.contract import DATASETS, id_check_char
from pipelines.derived import RELATIONS
from pipelines.gates.base import GateResult
from pipelines.gates.expectations import EXPECTATIONS_DIR, check_relations, load_suites
from pipelines.gates.report import write_report
from pipelines.publish.layout import Layout, plan_layout
from pipelines.runner import run_batch_date
from pipelines.tiers import dbt
from pipelines.tiers.dbt import DBT_DIR
from pipelines.tiers.specs import DBT_TIERS_ARGS
from pipelines.topology import load_topology
from pipelines.warehouse import drop_database, ensure_database, with_database

DAY = dt.date(2026, 11, 1)
PEOPLE, SEED = 1500, 3
COPY = "gates_corrupt"
TOWN_HR = "town__household_registration"
# made up for the test (valid GB 11643 check character), never a real person's
PLANTED_ID = "11010519491231002" + id_check_char("11010519491231002")


@dataclass
class Build:
    url: str
    conn: psycopg.Connection
    layout: Layout
    version: object  # pipelines.publish.build.BuiltVersion


def _ensure_tiers(url: str, layout: Layout) -> None:
    """If a publish step already moved tiers.* into a version, rebuild them (dbt) for this test."""
    with psycopg.connect(url) as c:
        present = {r[0] for r in c.execute(  # twins are views (pipelines/twins.py)
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'tiers' AND c.relkind IN ('r', 'v')").fetchall()}
    if set(layout.sources) <= present:
        return
    proc = dbt.run(DBT_TIERS_ARGS, url)
    assert proc.returncode == 0, proc.stdout[-3000:]


@pytest.fixture(scope="module")
def build(warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Build]:
    from pipelines.gates.quality import warm_up_in_background
    from pipelines.publish.build import build_version, discard_version

    warm_up_in_background()  # GX imports while the batch runs, as the publish op may do
    admin = with_database(warehouse_url, "postgres")
    name = f"{warehouse_url.rsplit('/', 1)[1]}_gates_exp"
    drop_database(admin, name)
    ensure_database(admin, name)
    url = with_database(warehouse_url, name)
    landing = tmp_path_factory.mktemp("gates_landing")
    generate(landing, DAY, people=PEOPLE, seed=SEED)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HUILIU_DATABASE_URL", url)
        report = run_batch_date(landing, DAY)
    assert report.failure is None, report.failure
    layout = plan_layout(load_topology(), dt.date(2026, 11, 23))
    _ensure_tiers(url, layout)
    with psycopg.connect(url, autocommit=True) as conn:
        version = build_version(conn, url, layout, adopt="copy")
        yield Build(url, conn, layout, version)
        discard_version(conn, version)
    drop_database(admin, name)
    shutil.rmtree(DBT_DIR / "target" / f"gates_lineage_{name}", ignore_errors=True)  # the gate's compile


def _no_planted_value(results: list[GateResult]) -> None:
    text = json.dumps([r.as_json() for r in results], ensure_ascii=False, default=str)
    assert PLANTED_ID not in text and PLANTED_ID[:14] not in text


def test_every_suite_passes_on_the_clean_tiers(build: Build, tmp_path: Path) -> None:
    """quality_gate = files + every expectation suite + the lineage proof (dbt compile meanwhile)."""
    from pipelines.gates.quality import quality_gate

    started = time.monotonic()
    results = quality_gate(build.conn, build.version)
    seconds = time.monotonic() - started
    failed = [f"{r.name}: {r.summary} {r.details.get('failed')}" for r in results if not r.passed]
    assert failed == []
    sources = list(build.layout.sources)
    expectations = [r for r in results if "relation_name" in r.details]  # one suite × relation each
    attacks = {r.name: r for r in results if r.name.startswith("reidentification@")}
    assert {"reidentification@city", "reidentification@town", "reidentification@village"} <= set(attacks)
    assert all(r.passed and r.details["people_attacked"] > PEOPLE for r in attacks.values() if
               r.details["audience"] in ("city", "town", "village"))
    # one result per suite × relation: the relation's tier suite and its dataset's suite
    assert sorted(r.name for r in expectations) == sorted(
        [f"tier.{_tier_of(s)}@{s}" for s in sources]  # ledgers and topics have no dataset suite
        + [f"dataset.{s.split('__')[1]}@{s}" for s in sources if s.split("__")[1] in DATASETS])
    town = next(r for r in results if r.name == f"tier.town@{TOWN_HR}")
    checked = town.details["checked"]
    assert "expect_column_values_to_not_match_regex(relation_to_head)" in checked  # the scan
    assert "expect_column_values_to_match_regex(id_number)" in checked  # the masked shape
    assert "expect_column_values_to_not_match_regex(id_number_token)" not in checked  # tokens are not scanned
    (lineage,) = [r for r in results if r.name == "lineage_proof"]
    assert lineage.details["relations"] == len(sources)
    assert [r.name for r in results if r.name.startswith("files_")] == ["files_received_loaded_kept_aside"]
    page = write_report(results, "clean-build", version=build.version.schema, directory=tmp_path)
    assert "publishable" in page.read_text(encoding="utf-8")
    print(f"quality gate on {PEOPLE} people: {len(sources)} relations, "
          f"{sum(r.details['evaluated'] for r in expectations)} expectations, {seconds:.1f} s "
          f"(lineage {lineage.details['seconds']} s after a {lineage.details['compile_seconds']} s compile)")


def _tier_of(source: str) -> str:
    audience = source.split("__")[0]
    return {"owner": "department", "granted": "department", "clear_names": "department"}.get(audience, audience)


def test_suites_are_gx_suites_and_follow_the_contract() -> None:
    import great_expectations as gx

    suites = load_suites()
    assert {s.path.parent.name for s in suites} == {"tiers", "datasets"}
    assert {s.dataset for s in suites if s.dataset} == set(DATASETS)
    for s in suites:
        doc = json.loads(s.path.read_text(encoding="utf-8"))
        gx.ExpectationSuite(**doc)  # valid GX 1.x JSON as it stands ("*" is a column name to GX)
    # value sets are the contract's codes, not a copy that drifted
    for d in DATASETS.values():
        doc = json.loads((EXPECTATIONS_DIR / "datasets" / f"{d.name}.json").read_text(encoding="utf-8"))
        sets = {e["kwargs"]["column"]: e["kwargs"]["value_set"] for e in doc["expectations"]
                if e["type"] == "expect_column_values_to_be_in_set"}
        assert sets == {c.name: list(c.codes) for c in d.columns if c.kind == "code" and c.codes}, d.name


def test_every_text_column_of_towns_and_villages_is_scanned_or_shaped(build: Build) -> None:
    """No text column escapes: either the scan for clear numbers or a masked shape that admits none."""
    from pipelines.gates.expectations import expand, relations_of
    from pipelines.govern.policy import Policy

    policy = Policy.from_catalog(build.conn)
    suites = load_suites()
    relations = [r for r in relations_of(build.conn, build.version.schema, build.layout.relations)
                 if r.audience in ("town", "village")]
    assert len(relations) == 2 * len(RELATIONS)
    for rel in relations:
        cfgs = [c for s in suites for c in expand(s, rel, policy)]
        scanned = {c["kwargs"]["column"] for c in cfgs
                   if c["type"] == "expect_column_values_to_not_match_regex"}
        masked = {c["kwargs"]["column"] for c in cfgs  # a masked shape: stars, so no run of 11 digits
                  if c["type"] == "expect_column_values_to_match_regex" and "\\*" in c["kwargs"]["regex"]}
        for column, typ in rel.columns:
            if typ == "text" and not column.endswith("_token") and column != "division_code":
                assert column in scanned or column in masked, (rel.name, column)


# --- a corrupted copy of the town tier ------------------------------------------------------


@pytest.fixture
def copy(build: Build) -> Iterator[psycopg.Connection]:
    """gates_corrupt.{city,town}__household_registration: copies of the built version's."""
    c = build.conn
    c.execute(f"DROP SCHEMA IF EXISTS {COPY} CASCADE")
    c.execute(f"CREATE SCHEMA {COPY}")
    for rel in ("city__household_registration", TOWN_HR):
        c.execute(f'CREATE TABLE {COPY}.{rel} AS SELECT * FROM "{build.version.schema}".{rel}')
    yield c
    c.execute(f"DROP SCHEMA IF EXISTS {COPY} CASCADE")


def _check(build: Build) -> dict[str, GateResult]:
    results = check_relations(build.conn, COPY, [TOWN_HR], build.layout)
    _no_planted_value(results)
    return {r.name.split("@")[0]: r for r in results}


def _failed(result: GateResult) -> dict[str, dict]:
    return {f["expectation"]: f for f in result.details.get("failed", [])}


def test_a_clear_identity_number_in_a_text_column_fails_the_scan(build: Build, copy: psycopg.Connection,
                                                                  tmp_path: Path) -> None:
    copy.execute(f"UPDATE {COPY}.{TOWN_HR} SET relation_to_head = coalesce(relation_to_head, '') || %s "
                 f"WHERE ctid = (SELECT min(ctid) FROM {COPY}.{TOWN_HR})", (f" 身份证{PLANTED_ID}",))
    by_suite = _check(build)
    assert by_suite["dataset.household_registration"].passed
    tier = by_suite["tier.town"]
    assert not tier.passed
    assert f"{COPY}.{TOWN_HR}" in tier.summary
    assert "expect_column_values_to_not_match_regex(relation_to_head)" in tier.summary
    (failure,) = _failed(tier).values()
    assert failure["relation"] == f"{COPY}.{TOWN_HR}"
    assert failure["unexpected_rows"] == 1 and failure["matched"] == {"identity number (18)": 1}
    assert "9" * 17 in failure["shapes"][0]["shape"]  # the shape of the value, not the value
    page = write_report(list(by_suite.values()), "corrupt-town", directory=tmp_path)
    html = page.read_text(encoding="utf-8")
    assert "relation_to_head" in html and f"{COPY}.{TOWN_HR}" in html and PLANTED_ID not in html


def test_a_row_moved_to_another_towns_division_fails_the_agreement_with_the_city(
        build: Build, copy: psycopg.Connection) -> None:
    moved = copy.execute(
        f"UPDATE {COPY}.{TOWN_HR} t SET division_code = ("
        "  SELECT d.code FROM governance.divisions d"
        "  WHERE d.level = 'village' AND d.town_code <> left(t.division_code, 9) ORDER BY d.code LIMIT 1) "
        f"WHERE ctid = (SELECT min(ctid) FROM {COPY}.{TOWN_HR} WHERE division_code NOT LIKE '%000')").rowcount
    assert moved == 1
    by_suite = _check(build)
    assert by_suite["tier.town"].passed  # a valid code, the same row count: only the city can tell
    data = by_suite["dataset.household_registration"]
    assert not data.passed
    failure = _failed(data)["expect_query_to_return_no_rows:rows_agree_with_city"]
    assert failure["relation"] == f"{COPY}.{TOWN_HR}" and failure["unexpected_rows"] == 1


def test_a_duplicated_key_fails_uniqueness(build: Build, copy: psycopg.Connection) -> None:
    copy.execute(f"INSERT INTO {COPY}.{TOWN_HR} SELECT * FROM {COPY}.{TOWN_HR} ORDER BY ctid LIMIT 1")
    by_suite = _check(build)
    data = by_suite["dataset.household_registration"]
    assert not data.passed
    unique = _failed(data)["expect_column_values_to_be_unique(id_number_token)"]
    assert unique["relation"] == f"{COPY}.{TOWN_HR}" and unique["duplicated_keys"] == 1
    assert "expect_column_values_to_be_unique(id_number_token)" in data.summary
    tier = _failed(by_suite["tier.town"])
    assert tier["expect_table_row_count_to_equal"]["rows"] == tier["expect_table_row_count_to_equal"][
        "expected_rows"] + 1


VILLAGE_HR = "village__household_registration"
TABLES = "gates_corrupt_tables"


def _verdicts(results: list[GateResult]) -> dict[str, tuple]:
    return {r.name: (r.passed, r.details["evaluated"], sorted((f["expectation"], f.get("unexpected_rows"))
                                                              for f in r.details.get("failed", [])))
            for r in results}


def test_a_twin_is_validated_once_with_the_verdicts_its_own_table_would_get(
        build: Build, copy: psycopg.Connection) -> None:
    """The village relation as a twin of the (corrupted) town table, against the same two as tables:
    the same results per suite × relation, failures and probes included, from one scan of the table."""
    twins = build.version.twins  # the build made them twins (of the granted table) in the first place
    assert twins.get(VILLAGE_HR) == twins.get(TOWN_HR) == "granted__household_registration"
    copy.execute(f"UPDATE {COPY}.{TOWN_HR} SET relation_to_head = coalesce(relation_to_head, '') || %s "
                 f"WHERE ctid = (SELECT min(ctid) FROM {COPY}.{TOWN_HR})", (f" 身份证{PLANTED_ID}",))
    copy.execute(f"INSERT INTO {COPY}.{TOWN_HR} SELECT * FROM {COPY}.{TOWN_HR} ORDER BY ctid DESC LIMIT 1")
    copy.execute(f"CREATE VIEW {COPY}.{VILLAGE_HR} AS SELECT * FROM {COPY}.{TOWN_HR}")
    copy.execute(f"DROP SCHEMA IF EXISTS {TABLES} CASCADE")
    copy.execute(f"CREATE SCHEMA {TABLES}")
    try:
        for rel in ("city__household_registration", TOWN_HR, VILLAGE_HR):
            copy.execute(f"CREATE TABLE {TABLES}.{rel} AS SELECT * FROM {COPY}.{rel}")
        lines: list[str] = []
        twin = check_relations(build.conn, COPY, [TOWN_HR, VILLAGE_HR], build.layout, log=lines.append)
        apart = check_relations(build.conn, TABLES, [TOWN_HR, VILLAGE_HR], build.layout)
    finally:
        copy.execute(f"DROP SCHEMA IF EXISTS {TABLES} CASCADE")
    _no_planted_value(twin)
    assert _verdicts(twin) == _verdicts(apart)
    failed = {name for name, (passed, _, _) in _verdicts(twin).items() if not passed}
    assert {f"tier.town@{TOWN_HR}", f"tier.village@{VILLAGE_HR}", f"dataset.household_registration@{TOWN_HR}",
            f"dataset.household_registration@{VILLAGE_HR}"} == failed
    village = next(r for r in twin if r.name == f"tier.village@{VILLAGE_HR}")
    assert all(f["relation"] == f"{COPY}.{VILLAGE_HR}" for f in village.details["failed"])  # named as itself
    assert [x for x in lines if x.startswith("expectations ")] == [
        next(x for x in lines if x.startswith(f"expectations {COPY}.{TOWN_HR} (also for {VILLAGE_HR})"))]
