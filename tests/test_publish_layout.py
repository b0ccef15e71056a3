"""The split as a pure function of the topology: unit schemas, sources, filters, names, gates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipelines.derived import RELATIONS
from pipelines.gates.reconcile import reconciliation_gate
from pipelines.naming import NamingError, checked, ident, source_name, version_number, version_schema
from pipelines.publish.build import BuiltVersion
from pipelines.publish.counts import VersionCounts
from pipelines.publish.layout import UnitFilter, plan_layout, unit_view_sql
from pipelines.topology import DEFAULT_PATH, Grant, load_topology

SMALL = Path(__file__).parent / "fixtures" / "small_county.yaml"
DAY = dt.date(2026, 11, 23)


@pytest.fixture(scope="module")
def shengzhou():
    return load_topology(DEFAULT_PATH)


def test_every_unit_has_a_schema_named_as_the_contract_says(shengzhou):
    layout = plan_layout(shengzhou, DAY)
    schemas = [u.schema for u in layout.units]
    assert len(schemas) == len(set(schemas)) == 1 + 40 + 15 + 304
    assert "city" in schemas and "dept_gaj" in schemas
    assert "town_330683100" in schemas and "village_330683100201" in schemas
    for u in layout.of_tier("town") + layout.of_tier("village") + layout.of_tier("city"):
        assert [v.dataset for v in u.views] == list(RELATIONS)  # the seven, ledgers, topics; data or not


def test_audiences_and_filters_follow_the_policy(shengzhou):
    layout = plan_layout(shengzhou, DAY)
    city = layout.unit("city")
    assert {(v.audience, v.filter.kind) for v in city.views} == {("city", "all")}
    gaj = {v.dataset: v.audience for v in layout.unit("dept_gaj").views}
    assert gaj == {"household_registration": "owner", "floating_population": "owner",  # with household data:
                   "person_ledger": "owner", "population_profile": "owner",
                   "collision_warnings": "granted"}  # and the warnings its rules route to it
    wjj = {v.dataset: v.audience for v in layout.unit("dept_wjj").views}
    assert wjj == {"elderly_subsidy": "granted", "death_records": "granted"}  # no rule routes to wjj
    assert layout.unit("dept_fgj").views == ()  # no dataset: an empty schema
    town = layout.unit("town_330683100")
    assert {(v.audience, v.filter) for v in town.views if v.dataset != "collision_warnings"} == {
        ("town", UnitFilter("town", "330683100"))}
    village = {v.dataset: v for v in layout.unit("village_330683100201").views}
    assert village["elderly_subsidy"].audience == "clear_names"
    assert village["household_registration"].audience == "village"
    assert village["household_registration"].filter == UnitFilter("village", "330683100201")


def test_warnings_go_to_the_units_each_rule_routes_to(shengzhou):
    layout = plan_layout(shengzhou, DAY)
    rules = {v.schema: v.filter.rules for v in layout.views if v.dataset == "collision_warnings"}
    assert rules["dept_rsj"] == ("severe_disability_uninsured", "uninsured")
    assert rules["dept_mzj"] == ("elderly_subsidy_missing", "subsidy_after_death")
    assert rules["town_330683100"] == ("elderly_alone_80", "elderly_subsidy_missing")
    assert "legal_rep_dead" in rules["city"] and len(rules["city"]) == 10
    assert "dept_tjj" not in rules and "dept_wjj" not in rules  # no rule routes there: no relation
    town = next(v for v in layout.unit("town_330683100").views if v.dataset == "collision_warnings")
    assert town.filter.admits("330683100201", "elderly_alone_80")
    assert not town.filter.admits("330683100201", "uninsured")  # a rule routed elsewhere
    assert not town.filter.admits("330683101001", "elderly_alone_80")  # another town's
    text = unit_view_sql(town, ("warning_id", "rule")).as_string(None)
    assert text.endswith("WHERE left(division_code, 9) = '330683100' AND rule IN ('elderly_alone_80', "
                         "'elderly_subsidy_missing')")
    with pytest.raises(NamingError):
        UnitFilter("all", rules=("uninsured'); DROP TABLE x; --",)).where()


def test_a_unit_holding_warnings_of_a_rule_not_routed_to_it_is_named():
    layout = plan_layout(load_topology(SMALL), DAY)
    per_code = {v: 2 for v in layout.village_codes} | {t + "000": 1 for t in layout.town_codes}
    counts = _consistent_counts(layout, per_code)
    village = layout.village_codes[0]
    by_rule = {s: {(village, "elderly_alone_80"): 1, (village, "uninsured"): 2}
               for s in layout.routed_sources}
    by_rule["granted__collision_warnings"] = {(village, "uninsured"): 2}
    results = {r.name: r for r in reconciliation_gate(
        None, BuiltVersion(1, "version_000001", layout, {}, VersionCounts(counts, by_rule)))}  # type: ignore[arg-type]
    assert results["units_hold_the_warnings_routed_to_them"].passed  # views keep their own rules' rows
    by_rule["village__collision_warnings"] = {(village, "elderly_alone_80"): 0}  # the tier lost one
    results = {r.name: r for r in reconciliation_gate(
        None, BuiltVersion(1, "version_000001", layout, {}, VersionCounts(counts, by_rule)))}  # type: ignore[arg-type]
    routed = results["units_hold_the_warnings_routed_to_them"]
    assert not routed.passed and routed.details["mismatches"] == {
        f"village_{village}": {"rows": 0, "city rows routed to it": 1}}


def test_expired_grants_stop_applying(shengzhou):
    before = plan_layout(shengzhou, dt.date(2026, 1, 15))
    after = plan_layout(shengzhou, DAY)
    assert [v.dataset for v in before.unit("dept_sxj").views] == [
        "enterprise_registry", "enterprise_ledger", "enterprise_profile"]  # the ledger comes with the grant
    assert after.unit("dept_sxj").views == ()
    late = plan_layout(shengzhou, dt.date(2027, 4, 1))  # the village's clear_names grant has expired
    assert {v.audience for v in late.unit("village_330683100201").views} == {"village"}


def test_approved_applications_join_the_baseline_and_replace_it_where_both_grant(shengzhou):
    """Topology.with_grants: what publish() plans from partitions.yaml and governance.access_applications."""
    extra = (Grant("dept_gaj", "elderly_subsidy", "granted", "A-1", dt.date(2027, 1, 31), "王"),
             Grant("village_330683100201", "elderly_subsidy", "granted", "A-2", dt.date(2026, 12, 31), "王"),
             Grant("village_999999999999", "elderly_subsidy", "granted", "A-3", dt.date(2027, 1, 31), "王"))
    both = shengzhou.with_grants(extra)
    assert len(both.grants) == len(shengzhou.grants) + 1  # one new, one replacing the file's, one unknown unit
    layout = plan_layout(both, DAY)
    gaj = {v.dataset: v for v in layout.unit("dept_gaj").views}
    assert gaj["elderly_subsidy"].audience == "granted" and gaj["elderly_subsidy"].grant
    assert "elderly_subsidy" not in {v.dataset for v in plan_layout(shengzhou, DAY).unit("dept_gaj").views}
    village = {v.dataset: v for v in layout.unit("village_330683100201").views}
    assert village["elderly_subsidy"].audience == "granted"  # the application, not the file's clear_names
    after = {v.dataset: v for v in plan_layout(both, dt.date(2027, 1, 1)).unit("village_330683100201").views}
    assert after["elderly_subsidy"].audience == "village" and "elderly_subsidy" not in {
        v.dataset for v in plan_layout(both, dt.date(2027, 2, 1)).unit("dept_gaj").views}


def test_sources_know_which_unit_filters_read_them(shengzhou):
    sources = plan_layout(shengzhou, DAY).sources
    assert sources["village__household_registration"] == {"village"}
    assert sources["town__household_registration"] == {"town"}
    assert sources["city__household_registration"] == {"all"}
    assert sources["clear_names__elderly_subsidy"] == {"village"}
    assert "clear_names__household_registration" not in sources  # nobody reads it: not copied
    assert len(sources) <= 6 * len(RELATIONS)


def test_a_unit_filter_is_a_literal_of_a_validated_code():
    assert UnitFilter("all").admits("330683100201")
    assert UnitFilter("town", "330683100").admits("330683100000")
    assert not UnitFilter("town", "330683100").admits("330683101001")
    assert UnitFilter("village", "330683100201").admits("330683100201")
    with pytest.raises(NamingError):
        UnitFilter("village", "3306831002'; DROP TABLE x; --").where()
    with pytest.raises(NamingError):
        UnitFilter("town", "33068310").where()


def test_identifiers_are_validated_before_quoting():
    assert checked("village_330683100201") == "village_330683100201"
    for bad in ("Village", "1abc", "a-b", 'x"y', "a" * 64, "", "dept_gaj; drop"):
        with pytest.raises(NamingError):
            ident(bad)
    with pytest.raises(NamingError):
        source_name("mayor", "household_registration")
    assert version_schema(42) == "version_000042" and version_number("version_000042") == 42
    assert version_number("village_330683100201") is None


def test_unit_view_sql_is_security_barrier_with_explicit_columns(shengzhou):
    layout = plan_layout(shengzhou, DAY)
    v = next(v for v in layout.unit("village_330683100201").views if v.dataset == "household_registration")
    text = unit_view_sql(v, ("record_id", "division_code")).as_string(None)
    assert text == ('CREATE VIEW "village_330683100201"."household_registration" WITH (security_barrier) AS '
                    'SELECT "record_id", "division_code" FROM "published"."village__household_registration" '
                    "WHERE division_code = '330683100201'")


def test_another_county_is_configuration_only():
    small = load_topology(SMALL)
    layout = plan_layout(small, DAY)
    assert len(layout.of_tier("town")) == 2 and len(layout.of_tier("village")) == 5
    assert not any(u.schema.startswith(("town_330683", "village_330683")) for u in layout.units)


def _built(layout, by_source) -> BuiltVersion:
    return BuiltVersion(1, "version_000001", layout, {}, VersionCounts(by_source))


def _consistent_counts(layout, rows_per_code):
    return {s: dict(rows_per_code) for s in layout.sources}


def test_gates_pass_when_every_split_reconciles():
    layout = plan_layout(load_topology(SMALL), DAY)
    per_code = {v: 2 for v in layout.village_codes} | {t + "000": 1 for t in layout.town_codes}
    results = reconciliation_gate(None, _built(layout, _consistent_counts(layout, per_code)))  # type: ignore[arg-type]
    assert [r.passed for r in results] == [True] * 6


def test_a_village_short_of_the_city_rows_of_its_code_is_named():
    layout = plan_layout(load_topology(SMALL), DAY)
    per_code = {v: 2 for v in layout.village_codes} | {t + "000": 1 for t in layout.town_codes}
    counts = _consistent_counts(layout, per_code)
    short = layout.village_codes[0]
    counts["village__household_registration"] = dict(per_code) | {short: 1}
    results = {r.name: r for r in reconciliation_gate(None, _built(layout, counts))}  # type: ignore[arg-type]
    unit = results["units_hold_what_their_filter_admits"]
    assert not unit.passed
    assert unit.details["mismatches"]["household_registration"] == {
        f"village_{short}": {"rows": 1, "city rows of its code": 2}}


def test_gates_catch_lost_rows_and_unknown_divisions():
    layout = plan_layout(load_topology(SMALL), DAY)
    per_code = {v: 2 for v in layout.village_codes} | {t + "000": 1 for t in layout.town_codes}
    counts = _consistent_counts(layout, per_code)
    counts["city__death_records"] = dict(per_code) | {"339901999999": 3}  # a code no unit reads
    counts["village__household_registration"] = dict(per_code) | {"339901001001": 1}  # one row lost
    results = {r.name: r for r in reconciliation_gate(None, _built(layout, counts))}  # type: ignore[arg-type]
    assert not results["villages_plus_town_level_equal_city"].passed
    assert set(results["villages_plus_town_level_equal_city"].details["mismatches"]) == {
        "death_records", "household_registration"}
    assert not results["towns_equal_city"].passed
    assert not results["departments_equal_city"].passed  # mzj owns death_records: 3 rows short
    assert not results["audiences_equal_city"].passed
