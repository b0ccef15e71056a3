"""The reconciliation gate: the split into units must keep every row, and no more.

For every dataset: the village views plus the rows with town-level codes make the city; the
towns together make the city; every department view (owned or granted) holds every county
row; every audience holds the same number of rows as the city. All from the per-division
counts taken while building (one scan per source), never one query per unit.
"""

from __future__ import annotations

from typing import Any

import psycopg

from pipelines.contract import DATASETS
from pipelines.gates.base import Candidate, GateResult
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
    for d in DATASETS:
        city_source = Source("city", d)
        if city_source not in sources:
            continue
        by_code = version.rows(city_source)
        city = sum(by_code.values())
        at_town_level = sum(n for code, n in by_code.items() if code in town_level)
        in_villages = sum(version.unit_rows("village", d).values())
        villages[d] = {"villages": in_villages, "town_level": at_town_level, "city": city}
        if in_villages + at_town_level != city:
            bad_v[d] = villages[d]
        in_towns = sum(version.unit_rows("town", d).values())
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
    ]
