"""Quality gates: checks on a built version that must all pass before it may be published.

`run_gates` is the reconciliation of counts the split must preserve: for every dataset, the
village views plus the rows with town-level codes make the city; the towns together make
the city; every department view (owned or granted) holds every county row; every audience
holds the same number of rows as the city. They use the per-division counts taken while
building (one scan per source), never one query per unit. More gates (Great Expectations
suites, the lineage proof, pattern scans) are functions of the same signature, passed to
`publish(gates=…)`; a failing one refuses the publish and leaves everything as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from pipelines.contract import DATASETS
from pipelines.publish.build import BuiltVersion
from pipelines.publish.naming import source_name


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    summary: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "summary": self.summary, "details": self.details}


Gate = Callable[[psycopg.Connection, BuiltVersion], list[GateResult]]


class GateFailed(RuntimeError):
    """At least one gate failed: nothing was published."""

    def __init__(self, results: list[GateResult]) -> None:
        self.results = results
        failed = [r for r in results if not r.passed]
        super().__init__("publish refused, gate(s) failed: "
                         + "; ".join(f"{r.name}: {r.summary}" for r in failed))


def _result(name: str, problems: dict[str, Any], checked: dict[str, Any], what: str) -> GateResult:
    if problems:
        return GateResult(name, False, f"{len(problems)} dataset(s) do not reconcile: {', '.join(problems)}",
                          {"mismatches": problems, "checked": checked})
    return GateResult(name, True, f"{what} for all {len(checked)} datasets", {"checked": checked})


def run_gates(conn: psycopg.Connection, version: BuiltVersion) -> list[GateResult]:
    """The reconciliation gates; `conn` is unused by them but given to every gate."""
    counts, layout = version.counts, version.layout
    village_units = layout.of_tier("village")
    town_units = layout.of_tier("town")
    town_level = {t + "000" for t in layout.town_codes}
    villages: dict[str, Any] = {}
    towns: dict[str, Any] = {}
    departments: dict[str, Any] = {}
    audiences: dict[str, Any] = {}
    bad_v: dict[str, Any] = {}
    bad_t: dict[str, Any] = {}
    bad_d: dict[str, Any] = {}
    bad_a: dict[str, Any] = {}
    for d in DATASETS:
        city_source = source_name("city", d)
        if city_source not in counts.by_source:
            continue
        city = counts.total(city_source)
        at_town_level = sum(n for code, n in counts.by_source[city_source].items() if code in town_level)
        in_villages = sum(counts.view_rows(v) for u in village_units for v in u.views if v.dataset == d)
        villages[d] = {"villages": in_villages, "town_level": at_town_level, "city": city}
        if in_villages + at_town_level != city:
            bad_v[d] = villages[d]
        in_towns = sum(counts.view_rows(v) for u in town_units for v in u.views if v.dataset == d)
        towns[d] = {"towns": in_towns, "city": city}
        if in_towns != city:
            bad_t[d] = towns[d]
        short = {u.schema: counts.view_rows(v) for u in layout.of_tier("department")
                 for v in u.views if v.dataset == d and counts.view_rows(v) != city}
        departments[d] = {"departments": sum(1 for u in layout.of_tier("department")
                                             for v in u.views if v.dataset == d), "city": city}
        if short:
            bad_d[d] = {"city": city, "departments": short}
        per_audience = {s.partition("__")[0]: counts.total(s) for s in counts.by_source
                        if s.partition("__")[2] == d}
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
