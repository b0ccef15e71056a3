"""The lineage proof (pipelines/gates/lineage.py): the project's compiled models pass, leaking ones fail.

One database of this module's own gets the raw and governance relations (no rows) and one
`dbt build` of every model that feeds a tier; that build's manifest holds the compiled SQL the
proof reads. The leaking models (tests/fixtures/leaking_models/<case>/<schema>.<model>.sql) are
laid over the real ones. The semantics tests need no database at all.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from support.seed_policy import policy_from_seeds
from support.staging import create_database

from pipelines.contract import DATASETS
from pipelines.gates.lineage import (
    APPROVED_FUNCTIONS,
    compiled_models,
    flows,
    lineage_result,
    protects,
    prove,
    tier_models,
)
from pipelines.govern.policy import Policy
from pipelines.tiers import dbt
from pipelines.tiers.dbt import DBT_DIR
from pipelines.topology import load_topology
from pipelines.warehouse import drop_database, with_database

LEAKING = Path(__file__).parent / "fixtures" / "leaking_models"
DAY = dt.date(2026, 11, 23)
KEY = b"lineage test key, not a real one"


@pytest.fixture(scope="module")
def lineage_db(warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(url, dbt target path) of a database where dbt built every tier and all it reads."""
    admin = with_database(warehouse_url, "postgres")
    name = f"{warehouse_url.rsplit('/', 1)[1]}_gates_lineage"
    url = create_database(admin, name, KEY)
    target = tmp_path_factory.mktemp("dbt_target")
    proc = dbt.run(["build", "--select", "+path:models/tiers", "--exclude-resource-type", "unit_test",
                    "--exclude-resource-type", "test"], url, target_path=target, log_path=target / "logs",
                   timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    yield url, target
    drop_database(admin, name)
    shutil.rmtree(DBT_DIR / "target" / f"gates_lineage_{name}", ignore_errors=True)  # the gate's compile


@pytest.fixture(scope="module")
def compiled(lineage_db: tuple[str, Path]) -> dict[str, str]:
    return compiled_models([lineage_db[1]])


@pytest.fixture(scope="module")
def policy(lineage_db: tuple[str, Path]) -> Policy:
    with psycopg.connect(lineage_db[0]) as c:
        return Policy.from_catalog(c)


def _with_case(compiled: dict[str, str], case: str) -> dict[str, str]:
    models = dict(compiled)
    for f in sorted((LEAKING / case).glob("*.sql")):
        models[f.stem] = f.read_text(encoding="utf-8")
    return models


# --- the project's own models ------------------------------------------------------------------


def test_the_projects_compiled_models_are_proven(compiled: dict[str, str], policy: Policy) -> None:
    tiers = tier_models(compiled)
    # every tier model of the project (six audiences × datasets, ledgers, topics; the warnings' four)
    assert len(tiers) == len(list((DBT_DIR / "models" / "tiers").glob("*/*.sql"))) > 6 * len(DATASETS), tiers
    leaks = prove(compiled, policy)  # its time is the benchmark's business (make bench), not a test's
    assert leaks == [], "\n".join(leak.describe() for leak in leaks)

    # the proof is not vacuous: it follows masked columns all the way to raw …
    (town_name,) = flows(compiled, "tiers.town__household_registration", "name")
    assert town_name.guard == "privacy.mask_name"
    assert [str(h) for h in town_name.hops][::3] == [
        "tiers.town__household_registration.name", "staging.stg_household_registration.name",
        "staging.stg_household_registration[checked].name", "raw.household_registration.name"]
    every = flows(compiled, "tiers.village__social_insurance", "id_number_token")
    (token,) = [f for f in every if f.leaf.column == "id_number"]
    pads = [f for f in every if f is not token]
    assert token.guard == "privacy.token_with" and str(token.leaf) == "raw.social_insurance.id_number"
    assert [p.guard for p in pads] == ["privacy.token_with"] * 2  # the HMAC pads, keyed into the token
    assert {p.leaf.column for p in pads} == {"inner_pad", "outer_pad"}
    # … and lets through what the policy keeps: the city sees names in clear
    (city_name,) = flows(compiled, "tiers.city__household_registration", "name")
    assert city_name.guard is None and str(city_name.leaf) == "raw.household_registration.name"
    assert policy.action("city", "household_registration", "name") == "keep"


# --- deliberately leaking models ----------------------------------------------------------------

HR = "raw.household_registration"

CASES = {
    "plain_select": ("tiers.town__household_registration", "id_number", f"{HR}.id_number", [
        "tiers.town__household_registration.id_number",
        "protected.prot_household_registration.id_number",
        "intermediate.int_household_registration__current.id_number",
        "staging.stg_household_registration.id_number",
        "raw.household_registration.id_number"]),
    "case_branch": ("tiers.town__household_registration", "phone", "raw.household_registration.phone", [
        "tiers.town__household_registration.phone",
        "protected.prot_household_registration.phone",
        "raw.household_registration.phone"]),
    "union_side": ("tiers.village__elderly_subsidy", "name", "raw.elderly_subsidy.name", [
        "tiers.village__elderly_subsidy.name",
        "protected.prot_elderly_subsidy.name",
        "raw.elderly_subsidy.name"]),
    "cte_rename_two_up": ("tiers.town__household_registration", "relation_to_head",
                          "raw.household_registration.id_number", [
        "tiers.town__household_registration.relation_to_head",
        "intermediate.int_household_registration__enriched.contact_note",
        "intermediate.int_household_registration__contacts.contact_ref",
        "intermediate.int_household_registration__contacts[renamed].contact_ref",
        "staging.stg_household_registration.id_number",
        "raw.household_registration.id_number"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_leaking_models_fail_with_the_column_path(compiled: dict[str, str], policy: Policy, case: str) -> None:
    relation, column, source, hops = CASES[case]
    leaks = prove(_with_case(compiled, case), policy)
    assert [(leak.relation, leak.column, leak.source) for leak in leaks] == [(relation, column, source)]
    (leak,) = leaks
    assert leak.grade is not None and leak.grade >= 3 and leak.action != "keep"
    path = list(leak.path)
    assert path[0] == hops[0] and path[-1] == hops[-1]
    positions = [path.index(h) for h in hops]  # every expected hop, in order
    assert positions == sorted(positions), path
    assert " ← ".join(hops[:2]) in leak.describe() or hops[1] in leak.describe()


def test_a_leaking_case_still_proves_the_other_columns(compiled: dict[str, str], policy: Policy) -> None:
    """The CASE model keeps its masked branch: only phone is reported, not the ten other columns."""
    models = _with_case(compiled, "case_branch")
    phone = flows(models, "tiers.town__household_registration", "phone")
    assert {f.guard for f in phone} == {"privacy.mask_phone", None}
    assert {str(f.leaf) for f in phone} == {"raw.household_registration.phone"}


# --- semantics, without a database -------------------------------------------------------------

SEEDS = policy_from_seeds()


def _prove(select: str, relation: str = "tiers.town__household_registration", **more: str) -> list:
    return prove({relation: select, **more}, SEEDS)


def test_policy_from_seeds_matches_the_catalogs_defaults() -> None:
    assert SEEDS.grade("household_registration", "id_number") == 4
    assert SEEDS.action("town", "household_registration", "id_number") == "token"
    assert SEEDS.action("clear_names", "elderly_subsidy", "name") == "keep"
    assert SEEDS.action("granted", "elderly_subsidy", "name") == "mask"
    assert SEEDS.action("village", "household_registration", "division_code") == "keep"
    assert SEEDS.grade("disability_certificates", "disability_type") == 4  # an override


def test_keep_is_allowed_only_where_the_policy_keeps() -> None:
    sql = f"select r.name as name from {HR} as r"
    assert _prove(sql, "tiers.city__household_registration") == []
    assert _prove(sql, "tiers.owner__household_registration") == []
    assert [leak.source for leak in _prove(sql)] == [f"{HR}.name"]


# One sensitive column of each class a tier receives, with the town tier that reads it.
BY_CLASS = {
    "identity_number": (HR, "id_number", "tiers.town__household_registration"),
    "household_id": (HR, "household_id", "tiers.town__household_registration"),
    "person_name": (HR, "name", "tiers.town__household_registration"),
    "phone": (HR, "phone", "tiers.town__household_registration"),
    "address": (HR, "address", "tiers.town__household_registration"),
    "free_text": ("raw.floating_population", "remarks", "tiers.town__floating_population"),
    "bank_account": ("raw.elderly_subsidy", "bank_account", "tiers.town__elderly_subsidy"),
}


def test_each_approved_function_protects_its_own_classes_only() -> None:
    for klass, (raw, column, tier) in BY_CLASS.items():
        assert SEEDS.klass(raw.split(".")[1], column) == klass
        for fn in sorted(APPROVED_FUNCTIONS):
            leaks = _prove(f"select {fn}(r.{column}) as x from {raw} as r", tier)
            assert (leaks == []) == protects(fn, klass), (fn, klass, [leak.describe() for leak in leaks])
    # the two the attacker would try first
    (name,) = _prove(f"select privacy.mask_free_text(r.name) as name from {HR} as r")
    assert name.through == ("privacy.mask_free_text",) and "does not protect person_name" in name.describe()
    (ident,) = _prove(f"select privacy.mask_phone(r.id_number) as id_number from {HR} as r")
    assert ident.path == ("tiers.town__household_registration.id_number", f"{HR}.id_number")
    assert "privacy.mask_phone, which does not protect identity_number" in ident.describe()
    assert _prove(f"select privacy.token(r.name) as x, privacy.mask_id(r.id_number) as y from {HR} as r") == []


def test_nothing_but_an_approved_function_protects() -> None:
    for expr in ("md5(r.id_number)", "encode(sha256(convert_to(r.id_number, 'UTF8')), 'hex')",
                 "upper(r.id_number)", "mask_id(r.id_number)", "public.mask_id(r.id_number)",
                 "left(r.id_number, 6) || '********' || right(r.id_number, 4)"):
        assert [leak.column for leak in _prove(f"select {expr} as x from {HR} as r")] == ["x"], expr


def test_every_value_counts_but_conditions_do_not() -> None:
    assert _prove(f"select coalesce(privacy.mask_id(r.id_number), r.id_number) as x from {HR} as r")
    assert _prove(f"select greatest(r.gender, r.name) as x from {HR} as r")
    assert _prove(f"select nullif(r.name, '') as x from {HR} as r")
    assert _prove(f"select case when r.id_number is null then 'none' when r.phone ~ '^1' then 'mobile' "
                  f"else 'other' end as x from {HR} as r") == []
    assert _prove(f"select nullif(r.gender, r.id_number) as x from {HR} as r") == []
    assert _prove(f"select rank() over (partition by r.id_number order by r.name) as x from {HR} as r") == []
    assert _prove(f"select r.gender as x from {HR} as r where r.id_number like '33%' "
                  f"group by r.gender, r.id_number") == []


def test_scalar_subqueries_ctes_and_derived_tables_are_followed() -> None:
    leaks = _prove(f"select (select s.phone from {HR} as s limit 1) as x from {HR} as r")
    assert [leak.source for leak in leaks] == [f"{HR}.phone"]
    leaks = _prove(f"with a as (select r.name as n from {HR} as r), b as (select a.n as m from a) "
                   f"select d.m as x from (select b.m from b) as d")
    assert [leak.path for leak in leaks] == [(  # CTE hops shown where a rename happens
        "tiers.town__household_registration.x", "tiers.town__household_registration[b].m",
        "tiers.town__household_registration[a].n", f"{HR}.name")]
    assert _prove(f"with a as (select privacy.mask_name(r.name) as n from {HR} as r) select a.n from a") == []


def test_what_cannot_be_resolved_fails_closed() -> None:
    (leak,) = _prove("select t.* from somewhere.unknown as t")
    assert leak.problem and "cannot be expanded" in leak.problem
    (leak,) = _prove(f"select x.name from {HR} as r")
    assert leak.problem and "cannot resolve" in leak.problem
    (leak,) = _prove("select from where")
    assert leak.problem


def test_upstream_models_are_traced_by_name() -> None:
    upstream = {"intermediate.int_household_registration__renamed":
                f"select r.id_number as ref from {HR} as r",
                "intermediate.int_household_registration__guarded":
                f"select privacy.token(r.id_number) as ref from {HR} as r"}
    leaks = prove({**upstream, "tiers.village__household_registration":
                   'select u.ref as note from "db"."intermediate"."int_household_registration__renamed" as u'},
                  SEEDS)
    assert [leak.path for leak in leaks] == [(
        "tiers.village__household_registration.note", "intermediate.int_household_registration__renamed.ref",
        f"{HR}.id_number")]
    guarded = "select u.ref as note from intermediate.int_household_registration__guarded as u"
    assert prove({**upstream, "tiers.village__household_registration": guarded}, SEEDS) == []


# --- the gate: the proof bound to what was built ------------------------------------------------


@pytest.fixture(scope="module")
def version(lineage_db: tuple[str, Path]) -> Iterator[object]:
    from pipelines.publish.build import build_version, discard_version
    from pipelines.publish.layout import plan_layout

    url = lineage_db[0]
    with psycopg.connect(url, autocommit=True) as c:
        built = build_version(c, url, plan_layout(load_topology(), DAY), adopt="copy")
        yield built
        discard_version(c, built)


def test_the_gate_binds_the_proof_to_the_built_relations(lineage_db: tuple[str, Path], compiled: dict[str, str],
                                                         version) -> None:
    with psycopg.connect(lineage_db[0], autocommit=True) as c:
        ok = lineage_result(c, version, compiled, "test")
        assert ok.passed, ok.summary
        assert ok.details["relations"] == len(version.layout.sources)

        source = "town__household_registration"
        shape = version.shapes[source]
        other = replace(version, shapes={**version.shapes, source: replace(shape, columns=shape.columns[:-1])})
        bad = lineage_result(c, other, compiled, "test")
        assert not bad.passed and source in bad.details["not_bound"]

        leaking = lineage_result(c, version, _with_case(compiled, "plain_select"), "test")
        assert not leaking.passed
        assert "raw.household_registration.id_number" in leaking.summary
        assert leaking.details["leaks"][0]["path"].startswith("tiers.town__household_registration.id_number ← ")


def test_quality_gate_compiles_proves_and_validates(lineage_db: tuple[str, Path], version,
                                                    tmp_path: Path) -> None:
    """The whole package on a (row-less) build: dbt compile in the background, GX meanwhile."""
    from pipelines.gates.quality import quality_gate
    from pipelines.gates.report import write_report

    url, built_with = lineage_db
    warm = DBT_DIR / "target" / f"gates_lineage_{urlsplit(url).path[1:]}"
    warm.mkdir(parents=True, exist_ok=True)  # as after the first publish: dbt's partial parse state is there
    shutil.copyfile(built_with / "partial_parse.msgpack", warm / "partial_parse.msgpack")
    with psycopg.connect(url, autocommit=True) as c:
        started = time.monotonic()
        results = quality_gate(c, version)
        seconds = time.monotonic() - started
    failed = [f"{r.name}: {r.summary}" for r in results if not r.passed]
    assert failed == []
    (lineage,) = [r for r in results if r.name == "lineage_proof"]
    assert lineage.details["compiled_from"] == str(warm)
    assert any(r.name.startswith("tier.town@") for r in results)
    page = write_report(results, "test-run", version=version.schema, directory=tmp_path)
    assert page.read_text(encoding="utf-8").count("<tr>") > len(results)
    print(f"quality_gate on an empty build: {seconds:.1f} s")
