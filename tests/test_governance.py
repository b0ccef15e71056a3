"""Classify, grade, desensitize: catalog, content detection, and a leak scan of the tiers.

One generated batch (100,000 people) runs through the real Definitions; before its dbt
build, identity and mobile numbers are planted in about 1 row in 10,000 of
floating_population.remarks and of household_registration.relation_to_head (a column the
seed calls harmless).
"""

from __future__ import annotations

import datetime as dt
import re

import psycopg
import pytest
from support.db import reset_warehouse

from huiliu_dev.generate import generate
from pipelines.clock import today_in_county
from pipelines.contract import DATASETS, id_check_char
from pipelines.ingest.batches import ingest_day
from pipelines.ingest.schema import ensure_schemas, sync_divisions
from pipelines.runner import run_batch_date
from pipelines.tiers.derived_catalog import seed_rows
from pipelines.tiers.ledgers import load_ledgers
from pipelines.topology import load_topology

DAY = dt.date(2026, 11, 1)
PEOPLE = 100_000
PLANTED_ID = "11010519491231002" + id_check_char("11010519491231002")
PLANTED_MOBILE = "13912345678"
TIERS_SCANNED = ("city", "town", "village")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(warehouse_url, tmp_path_factory) -> psycopg.Connection:
    landing = tmp_path_factory.mktemp("gov_landing")
    generate(landing, DAY, people=PEOPLE, seed=5)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        reset_warehouse(conn)
        ensure_schemas(conn)
        sync_divisions(conn, load_topology())
        ingest_day(conn, landing, DAY)
        planted = f" 联系人身份证{PLANTED_ID} 电话{PLANTED_MOBILE}"
        for table, column in (("floating_population", "remarks"),
                              ("household_registration", "relation_to_head")):
            n = conn.execute(
                f"UPDATE raw.{table} SET {column} = coalesce({column}, '') || %s "
                "WHERE line_number %% 10000 = 17", (planted,)).rowcount
            assert n >= 1
        report = run_batch_date(landing, DAY)  # ingest skips; dbt builds over what is planted
        assert report.failure is None, report.failure
        yield conn


def test_catalog_lists_every_column_with_class_grade_and_actions(built):
    rows = built.execute(
        "SELECT dataset, column_name, label, class, grade, action_city, action_owner, "
        "action_granted, action_town, action_village FROM governance.column_catalog"
    ).fetchall()
    derived = {(r["relation"], r["column_name"]) for r in seed_rows(load_ledgers())}
    assert {(r[0], r[1]) for r in rows} == {
        (d.name, c) for d in DATASETS.values() for c in d.column_names} | derived
    actions = {"keep", "mask", "token", "generalize", "drop"}
    for r in rows:
        assert r[2] and r[3] and 1 <= r[4] <= 4 and set(r[5:]) <= actions, r
    by = {(r[0], r[1]): r for r in rows}
    assert by[("household_registration", "id_number")][4:] == (
        4, "token", "keep", "token", "token", "token")
    assert by[("elderly_subsidy", "bank_account")][8:] == ("drop", "drop")
    assert by[("household_registration", "name")][5] == "keep"  # the city keeps names
    assert by[("household_registration", "address")][8] == "generalize"
    # the contract's grades may be raised, never lowered
    for d in DATASETS.values():
        for c in d.columns:
            assert by[(d.name, c.name)][4] >= c.grade, (d.name, c.name)


def test_content_detection_catches_planted_columns_and_nothing_else(built):
    detected = dict(built.execute(
        "SELECT dataset || '.' || column_name, detected_class FROM governance.content_detection "
        "WHERE detected_class IS NOT NULL").fetchall())
    assert detected == {
        "floating_population.remarks": "identity_number_in_text",
        "household_registration.relation_to_head": "identity_number_in_text",
    }
    catalog = dict(built.execute(
        "SELECT column_name, action_town FROM governance.column_catalog "
        "WHERE dataset = 'household_registration'").fetchall())
    assert catalog["relation_to_head"] == "drop"  # treated by its detected class


def _digit_needles(conn: psycopg.Connection) -> tuple[set[str], set[str], set[str]]:
    ids: set[str] = set()
    for d in DATASETS.values():
        for c in d.columns:
            if c.kind == "id_number":
                ids |= {r[0] for r in conn.execute(
                    f"SELECT DISTINCT {c.name} FROM staging.stg_{d.name} "
                    f"WHERE kept_aside_reason IS NULL AND {c.name} IS NOT NULL")}
    ids.add(PLANTED_ID)
    accounts = {r[0] for r in conn.execute(
        "SELECT DISTINCT bank_account FROM staging.stg_elderly_subsidy "
        "WHERE kept_aside_reason IS NULL AND bank_account IS NOT NULL")}
    mobiles = {PLANTED_MOBILE}
    for d in DATASETS.values():
        for c in d.columns:
            if c.kind == "phone":
                mobiles |= {r[0] for r in conn.execute(
                    f"SELECT DISTINCT {c.name} FROM staging.stg_{d.name} "
                    f"WHERE {c.name} ~ '^1[0-9]{{10}}$'")}
    return ids, accounts, mobiles


def _names(conn: psycopg.Connection) -> set[str]:
    names: set[str] = set()
    for dataset, column in (("household_registration", "name"), ("floating_population", "name"),
                            ("disability_certificates", "guardian_name"),
                            ("enterprise_registry", "legal_rep_name")):
        names |= {r[0] for r in conn.execute(
            f"SELECT DISTINCT {column} FROM staging.stg_{dataset} "
            f"WHERE {column} IS NOT NULL AND char_length({column}) >= 3")}
    return names


def _text_values(conn: psycopg.Connection, schema: str, prefix: str) -> list[tuple[str, str]]:
    """(relation.column, value) of every text column (tokens excepted) of matching tables."""
    columns = conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name LIKE %s AND data_type = 'text' "
        "AND column_name NOT LIKE '%%\\_token'", (schema, prefix + "%")).fetchall()
    out = []
    for table, column in columns:
        out += [(f"{table}.{column}", r[0]) for r in conn.execute(
            f'SELECT "{column}" FROM "{schema}"."{table}" WHERE "{column}" IS NOT NULL')]
    return out


_RUN = re.compile(r"[0-9X]{11,}")


def _leaks(values: list[tuple[str, str]], ids, accounts, mobiles, names) -> dict[str, set[str]]:
    """Where a needle occurs as a substring; reports where, never the value."""
    found: dict[str, set[str]] = {}
    for where, value in values:
        for run in _RUN.findall(value.upper()):
            for size, needles, kind in ((18, ids, "id"), (11, mobiles, "mobile")):
                if any(run[i:i + size] in needles for i in range(len(run) - size + 1)):
                    found.setdefault(kind, set()).add(where)
            for size in range(16, 20):
                if any(run[i:i + size] in accounts for i in range(len(run) - size + 1)):
                    found.setdefault("bank_account", set()).add(where)
        if names:
            for size in (3, 4):
                if any(value[i:i + size] in names for i in range(len(value) - size + 1)):
                    found.setdefault("name", set()).add(where)
    return found


def test_no_identity_number_or_account_in_any_tier_no_mobile_or_name_below_the_city(built):
    ids, accounts, mobiles = _digit_needles(built)
    names = _names(built)
    assert len(ids) > PEOPLE // 2 and accounts and len(mobiles) > 1000 and len(names) > 1000
    city = _leaks(_text_values(built, "published", "city__"), ids, accounts, set(), set())
    assert city == {}, city
    for tier in ("town", "village"):
        leaks = _leaks(_text_values(built, "published", f"{tier}__"), ids, accounts, mobiles, names)
        assert leaks == {}, (tier, leaks)


def test_the_same_scan_finds_them_in_staging(built):
    ids, accounts, mobiles = _digit_needles(built)
    names = _names(built)
    values = []
    for d in ("household_registration", "elderly_subsidy", "floating_population"):
        values += _text_values(built, "staging", f"stg_{d}")
    found = _leaks(values, ids, accounts, mobiles, names)
    assert {"id", "bank_account", "mobile", "name"} <= set(found)
    assert "stg_floating_population.remarks" in found["id"]


def test_tokens_are_identical_across_tiers_and_columns_carry_comments(built):
    same = built.execute(
        "SELECT count(*) FROM published.city__household_registration c "
        "JOIN published.village__household_registration v USING (id_number_token)").fetchone()[0]
    village = built.execute("SELECT count(*) FROM published.village__household_registration "
                            "WHERE division_code NOT LIKE '%000'").fetchone()[0]
    assert same >= village > 0
    assert built.execute("SELECT count(*) FROM published.town__household_registration "
                         "WHERE id_number_token !~ '^[0-9a-f]{64}$'").fetchone()[0] == 0
    comment = built.execute(
        "SELECT col_description('published.town__household_registration'::regclass, a.attnum) "
        "FROM pg_attribute a WHERE a.attrelid = 'published.town__household_registration'::regclass "
        "AND a.attname = 'name'").fetchone()[0]
    assert comment == "姓名 | person_name | L3 | mask"


def test_grants_in_force_follow_the_county_clock(built):
    """A grant is valid through its `expires` day and gone the next, by the county's date, not today's."""
    def in_force(day: dt.date | None) -> set[tuple[str, str]]:
        built.execute("UPDATE governance.county_clock SET today = %s", (day,))
        return {(r[0], r[1]) for r in built.execute("SELECT unit, dataset FROM governance.grants_in_force")}

    try:
        assert ("dept_wjj", "elderly_subsidy") in in_force(dt.date(2027, 12, 31))  # its last valid day
        assert ("dept_wjj", "elderly_subsidy") not in in_force(dt.date(2028, 1, 1))
        assert ("dept_sxj", "enterprise_registry") in in_force(dt.date(2026, 1, 31))
        assert ("dept_sxj", "enterprise_registry") not in in_force(dt.date(2026, 2, 1))
        in_force(None)
        county_today = built.execute("SELECT today FROM governance.county_today").fetchone()[0]
        assert county_today == today_in_county()
    finally:
        built.execute("UPDATE governance.county_clock SET today = NULL")
    topology = load_topology()
    assert "enterprise_registry" not in topology.datasets_of_department("sxj", dt.date(2026, 2, 1))
    assert topology.datasets_of_department("sxj", dt.date(2026, 1, 31))["enterprise_registry"] == "granted"
    assert topology.datasets_of_department("wjj", dt.date(2027, 12, 31))["elderly_subsidy"] == "granted"
    assert "elderly_subsidy" not in topology.datasets_of_department("wjj", dt.date(2028, 1, 1))


def test_masking_functions_are_not_executable_by_public(built):
    rows = built.execute(
        "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'privacy' AND has_function_privilege('public', p.oid, 'EXECUTE')"
    ).fetchall()
    assert rows == []
