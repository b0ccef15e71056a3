"""The reconciliation gate: the split into units must keep every row, and no more.

For every dataset: the village views plus the rows with town-level codes make the city; the
towns together make the city; every department view (owned or granted) holds every county
row; every audience holds the same number of rows as the city. All from the per-division
counts taken while building (one scan per source), never one query per unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg

from pipelines.contract import DATASETS
from pipelines.derived import RELATIONS, WARNINGS
from pipelines.gates.base import Candidate, GateResult
from pipelines.gates.holds import dataset_states
from pipelines.naming import Source


def _result(name: str, problems: dict[str, Any], checked: dict[str, Any], what: str) -> GateResult:
    if problems:
        return GateResult(name, False, f"{len(problems)} dataset(s) do not reconcile: {', '.join(problems)}",
                          {"mismatches": problems, "checked": checked})
    return GateResult(name, True, f"{what} for all {len(checked)} datasets", {"checked": checked})


def reconciliation_gate(conn: psycopg.Connection, version: Candidate) -> list[GateResult]:
    """Gate: the four reconciliations of counts; `conn` is unused (every gate is given one)."""
    town_level = {t + "000" for t in version.town_codes}
    sources = list(version.sources)
    villages: dict[str, Any] = {}
    towns: dict[str, Any] = {}
    departments: dict[str, Any] = {}
    audiences: dict[str, Any] = {}
    bad_v: dict[str, Any] = {}
    bad_t: dict[str, Any] = {}
    bad_d: dict[str, Any] = {}
    bad_a: dict[str, Any] = {}
    bad_u: dict[str, Any] = {}
    for d in RELATIONS:  # the ledgers and topic libraries split into units like the datasets
        city_source = Source("city", d)
        if city_source not in sources or d == WARNINGS:  # routed by rule: judged below
            continue
        by_code = version.rows(city_source)
        city = sum(by_code.values())
        at_town_level = sum(n for code, n in by_code.items() if code in town_level)
        per_village = version.unit_rows("village", d)
        in_villages = sum(per_village.values())
        villages[d] = {"villages": in_villages, "town_level": at_town_level, "city": city}
        if in_villages + at_town_level != city:
            bad_v[d] = villages[d]
        per_town = version.unit_rows("town", d)
        in_towns = sum(per_town.values())
        admitted = _admitted(by_code, per_village, per_town)
        if admitted:
            bad_u[d] = admitted
        towns[d] = {"towns": in_towns, "city": city}
        if in_towns != city:
            bad_t[d] = towns[d]
        per_department = version.unit_rows("department", d)
        short = {schema: n for schema, n in per_department.items() if n != city}
        departments[d] = {"departments": len(per_department), "city": city}
        if short:
            bad_d[d] = {"city": city, "departments": short}
        per_audience = {s.audience: sum(version.rows(s).values()) for s in sources if s.dataset == d}
        audiences[d] = per_audience
        if any(n != city for n in per_audience.values()):
            bad_a[d] = per_audience
    return [
        _result("villages_plus_town_level_equal_city", bad_v, villages,
                "village views + town-level rows = city rows"),
        _result("towns_equal_city", bad_t, towns, "the towns' views together = city rows"),
        _result("departments_equal_city", bad_d, departments, "every department view holds every county row"),
        _result("audiences_equal_city", bad_a, audiences, "every audience holds the city's rows"),
        _result("units_hold_what_their_filter_admits", bad_u, villages,
                "each village = the city rows of its code, each town = the city rows under it "
                "(town-level rows in no village)"),
        _routed_result(version),
    ]


def _routed_result(version: Candidate) -> GateResult:
    """The warnings: every unit's view holds exactly the city's warnings of its rules and division."""
    name = "units_hold_the_warnings_routed_to_them"
    if Source("city", WARNINGS) not in version.sources:
        return GateResult(name, True, "no warnings in this version", {})
    per_unit = version.routed_rows(WARNINGS)
    wrong = {u: {"rows": shown, "city rows routed to it": want}
             for u, (shown, want) in sorted(per_unit.items()) if shown != want}
    checked = {"units": len(per_unit), "city": per_unit.get("city", (0, 0))[1]}
    if wrong:
        return GateResult(name, False, f"{len(wrong)} unit(s) hold other warnings than their routes give them: "
                          + ", ".join(list(wrong)[:5]), {"mismatches": dict(list(wrong.items())[:5]),
                                                         "checked": checked})
    return GateResult(name, True, f"each of {len(per_unit)} units holds the city's warnings of its rules and "
                      "division", {"checked": checked})


def _admitted(by_code: Mapping[str | None, int], villages: Mapping[str, int], towns: Mapping[str, int]
              ) -> dict[str, Any]:
    """Units whose rows differ from the city rows their filter admits (at most five named)."""
    wrong: dict[str, Any] = {}
    for schema, n in villages.items():
        want = by_code.get(schema.removeprefix("village_"), 0)
        if n != want:
            wrong[schema] = {"rows": n, "city rows of its code": want}
    per_town: dict[str, int] = {}
    for code, n in by_code.items():
        if code:
            per_town[code[:9]] = per_town.get(code[:9], 0) + n
    for schema, n in towns.items():
        want = per_town.get(schema.removeprefix("town_"), 0)
        if n != want:
            wrong[schema] = {"rows": n, "city rows under it": want}
    return dict(sorted(wrong.items())[:5]) | ({"units": len(wrong)} if len(wrong) > 5 else {})


CURRENT = "tiers_equal_current_state"


def current_state_gate(conn: psycopg.Connection, version: Candidate) -> list[GateResult]:
    """Gate: each dataset's city rows = its current state less the rows value expectations held
    back — or, for a dataset held at its previous state, the rows it published then."""
    held = version.held
    states = dataset_states(conn)
    checked: dict[str, Any] = {}
    bad: dict[str, Any] = {}
    for d in DATASETS:
        source = Source("city", d)
        if source not in version.sources:
            continue
        city = sum(version.rows(source).values())
        if d in held:
            checked[d] = {"city": city, "held at the previous state": held[d]}
            expected = held[d]
        else:
            state = states.get(d)
            current, quality = (state.current_rows, state.quality_rows) if state else (0, 0)
            expected = current - quality
            checked[d] = {"city": city, "current state": current, "held back by value quality": quality}
        if city != expected:
            bad[d] = checked[d]
    return [_result(CURRENT, bad, checked,
                    "city rows = current state − rows held back (or the held state)")]
