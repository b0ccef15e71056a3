"""An attacker inside a unit cannot put a masked identifier back together; yesterday's policy could.

The attack is the publish gate itself (pipelines/gates/reidentify), run on the 100,000-person
warehouse the security tests share: every audience combines each masked identity number with
every column of the same row and of its other relations joined by token, applies GB 11643's
structure, and confirms against the protected layer. The same attack on a copy that restores
the former policy (region + last four kept, birth date in clear) must recover nearly every
number, or the attack proves nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import psycopg
import pytest
from support.county import PEOPLE

from pipelines.gates.reidentify import Knowledge, digit_candidates, id_candidates, reidentification_gate
from pipelines.naming import Source

OLD_ID = "left(id_number, 6) || repeat('*', 8) || right(id_number, 4)"


@dataclass
class Scratch:
    """A candidate over a scratch schema (the gate reads a candidate through this protocol only)."""

    schema: str
    sources: tuple[Source, ...]
    town_codes: tuple[str, ...] = ()
    village_codes: tuple[str, ...] = ()

    def columns(self, source: Source) -> tuple[str, ...] | None:
        return None

    def rows(self, source: Source) -> dict:
        return {}

    def unit_rows(self, tier: str, dataset: str) -> dict:
        return {}


def _gate_results(published) -> list[dict]:
    with published.connect() as c:
        (gates,) = c.execute("SELECT gates FROM governance.publish_log WHERE run_id = %s",
                             (published.report.run_id,)).fetchone()  # the county's run, all gates
    return [g for g in gates if g["name"].startswith("reidentification@")]


def test_no_audience_recovers_any_masked_value_of_100000_people(published) -> None:
    results = {g["name"]: g for g in _gate_results(published)}
    audiences = ("city", "granted", "clear_names", "town", "village")  # everyone but the owner
    assert set(results) == {f"reidentification@{a}" for a in audiences}
    for name, g in results.items():
        assert g["passed"], (name, g["summary"])
        assert "failed" not in g["details"]
    for audience in ("city", "town", "village"):  # residents + the floating population, all attacked
        assert results[f"reidentification@{audience}"]["details"]["people_attacked"] > PEOPLE


def test_what_a_town_sees_leaves_thousands_of_candidates(published) -> None:
    with published.connect() as c:
        masked, birth, gender = c.execute("SELECT id_number, birth_date, gender FROM "
                                          "published.town__household_registration LIMIT 1").fetchone()
        types = dict(c.execute("SELECT column_name, data_type FROM information_schema.columns WHERE "
                               "table_schema = 'published' AND table_name = 'town__household_registration'"))
    assert re.fullmatch(r"[0-9]\*{15}[0-9][0-9X]", masked) and isinstance(birth, int) and gender in "129"
    assert types["birth_date"] == "integer"  # a year: the birth segment stays hidden
    shape = "".join("0" if ch == "*" else "1" for ch in masked)
    assert Knowledge(shape, 1, True).candidates > 1000
    assert id_candidates("111111" + "0" * 8 + "1111", 2, True) == 1.0  # yesterday's mask + a birth date
    assert digit_candidates("11100001111", "phone") == 10_000  # 138****8000


@pytest.fixture
def old_policy(published) -> psycopg.Connection:
    """Yesterday's town and village relations, rebuilt from the protected layer."""
    with published.connect() as c:
        c.execute("DROP SCHEMA IF EXISTS old_policy CASCADE")
        c.execute("CREATE SCHEMA old_policy")
        for audience in ("town", "village"):
            c.execute(f"CREATE TABLE old_policy.{audience}__household_registration AS SELECT {OLD_ID} AS "
                      "id_number, id_number_token, birth_date, gender, division_code "
                      "FROM protected.prot_household_registration")
            c.execute(f"CREATE TABLE old_policy.{audience}__social_insurance AS SELECT {OLD_ID} AS id_number, "
                      "id_number_token, insurance_type, division_code FROM protected.prot_social_insurance")
        c.execute(f"CREATE TABLE old_policy.village__death_records AS SELECT {OLD_ID} AS id_number, "
                  "id_number_token, died_on, division_code FROM protected.prot_death_records")
        yield c
        c.execute("DROP SCHEMA old_policy CASCADE")


def test_the_attack_recovers_nearly_everyone_under_yesterdays_policy(old_policy: psycopg.Connection) -> None:
    sources = tuple(Source(a, d) for a in ("town", "village")
                    for d in ("household_registration", "social_insurance"))
    scratch = Scratch("old_policy", (*sources, Source("village", "death_records")))
    results = {r.name: r for r in reidentification_gate(old_policy, scratch)}
    residents = old_policy.execute("SELECT count(*) FROM protected.prot_household_registration").fetchone()[0]
    for audience in ("town", "village"):
        r = results[f"reidentification@{audience}"]
        assert not r.passed
        found = {f["relation_column"]: f for f in r.details["failed"]}
        hr = found[f"{audience}__household_registration.id_number"]
        assert hr["recovered"] >= 0.99 * residents and hr["candidates_left"] == 1.0
        assert "birth date" in hr["what_is_combined"]
        # the insured carry no birth date: their token joins them to it
        assert found[f"{audience}__social_insurance.id_number"]["recovered"] > 0.9 * residents
        text = json.dumps(r.as_json(), ensure_ascii=False)
        assert not re.search(r"[0-9]{15}", text)  # counts, shapes and names, never a number
    village = results["reidentification@village"].details
    assert village["failed"][0]["relation"].startswith("old_policy.")
    # the dead have left the household register: nothing joins a birth date to them, and the
    # attack claims only what it can confirm
    assert not any(f["relation_column"] == "village__death_records.id_number" for f in village["failed"])
    assert village["people_attacked"] > residents


def test_a_twin_audience_is_attacked_by_the_same_query_and_named_as_itself(old_policy: psycopg.Connection
                                                                           ) -> None:
    """Village relations that are twins of the town's (views over its tables, pipelines/twins.py):
    the village's identity attack is the town's very query, run once, and what it recovers is
    reported under the village's own names, with the figures the same relations as tables give."""
    c = old_policy
    datasets = ("household_registration", "social_insurance")
    c.execute("CREATE SCHEMA old_twins")
    try:
        for d in datasets:
            c.execute(f"CREATE TABLE old_twins.town__{d} AS SELECT * FROM old_policy.town__{d}")
            c.execute(f"CREATE VIEW old_twins.village__{d} AS SELECT * FROM old_twins.town__{d}")
        sources = tuple(Source(a, d) for a in ("town", "village") for d in datasets)
        twin = {r.name: r for r in reidentification_gate(c, Scratch("old_twins", sources))}
        apart = {r.name: r for r in reidentification_gate(c, Scratch("old_policy", sources))}
    finally:
        c.execute("DROP SCHEMA IF EXISTS old_twins CASCADE")

    def figures(r) -> list[tuple]:
        return sorted((f["relation_column"], f["recovered"], f["candidates_left"], f["what_is_combined"])
                      for f in r.details["failed"])

    village, alone = twin["reidentification@village"], apart["reidentification@village"]
    assert not village.passed and village.details["identity_attack_as"] == "town"
    assert "identity_attack_as" not in alone.details
    assert "identity_attack_as" not in twin["reidentification@town"].details
    assert figures(village) == figures(alone)
    assert village.details["people_attacked"] == alone.details["people_attacked"]
    assert {f["relation"] for f in village.details["failed"]} == {f"old_twins.village__{d}" for d in datasets}
