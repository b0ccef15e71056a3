"""Which relation each unit sees: the county's topology turned into unit schemas and views.

A unit view is `SELECT <columns> FROM published.<audience>__<dataset> WHERE <unit filter>`:
the city and departments read every county row, a town the rows whose division code lies
under it (village codes and its town-level code), a village the rows of its own code.
Nothing here touches the database; `plan_layout` is a pure function of the topology and the
day on which grants are judged, so tests and the benchmark can reason about it directly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from psycopg import sql

from pipelines.derived import DERIVED, RELATIONS, WARNINGS
from pipelines.naming import (
    GRANTS_IN_FORCE,
    PUBLISHED_SCHEMA,
    Source,
    checked,
    columns,
    ident,
    source_name,
    town_literal,
    village_literal,
)
from pipelines.tiers.screenings import Rule
from pipelines.tiers.screenings import rules as screening_rules
from pipelines.topology import Topology

FilterKind = Literal["all", "town", "village"]

# Department grant levels and unit grant levels are audiences of the same name.
_LEVEL_AUDIENCE = {"owner": "owner", "granted": "granted", "clear_names": "clear_names"}


@dataclass(frozen=True)
class UnitFilter:
    """The rows of a shared per-tier relation that one unit may see: by division, and for the
    warnings also by rule (only those routed to the unit; `rules` None: every row)."""

    kind: FilterKind
    code: str = ""
    rules: tuple[str, ...] | None = None

    def predicate(self) -> sql.Composable | None:
        parts: list[sql.Composable] = []
        if self.kind == "town":
            parts.append(sql.SQL("left(division_code, 9) = {}").format(town_literal(self.code)))
        elif self.kind == "village":
            parts.append(sql.SQL("division_code = {}").format(village_literal(self.code)))
        if self.rules is not None:  # rule codes from screenings/*.yaml, checked: literals, never data
            codes = [sql.Literal(checked(r, "rule")) for r in self.rules] or [sql.SQL("NULL")]
            parts.append(sql.SQL("rule IN ({})").format(sql.SQL(", ").join(codes)))
        return sql.SQL(" AND ").join(parts) if parts else None

    def where(self) -> sql.Composable:
        p = self.predicate()
        return sql.SQL("") if p is None else sql.SQL(" WHERE {}").format(p)

    def admits(self, division_code: str, rule: str | None = None) -> bool:
        """The same predicate in Python, for counting from per-division (and per-rule) totals."""
        if self.rules is not None and rule not in self.rules:
            return False
        if self.kind == "all":
            return True
        if self.kind == "town":
            return division_code[:9] == self.code
        return division_code == self.code


@dataclass(frozen=True)
class UnitView:
    schema: str  # the unit's schema (and role)
    dataset: str  # the view's name
    audience: str
    filter: UnitFilter
    grant: bool = False  # the access comes from a grant: rows only while it is in force (read time)
    fallback: str | None = None  # the audience a town or village reads once its grant has expired

    @cached_property
    def source(self) -> str:
        return source_name(self.audience, self.dataset)

    @cached_property
    def fallback_source(self) -> str | None:
        return source_name(self.fallback, self.dataset) if self.fallback else None


@dataclass(frozen=True)
class UnitPlan:
    schema: str  # also the name of the unit's NOLOGIN role
    tier: str  # city | department | town | village
    code: str
    name: str
    views: tuple[UnitView, ...]


@dataclass(frozen=True)
class Layout:
    """Every unit schema of one publish, and the shared sources their views read."""

    day: dt.date
    county_code: str
    units: tuple[UnitPlan, ...]
    town_codes: tuple[str, ...]
    village_codes: tuple[str, ...]

    @property
    def views(self) -> tuple[UnitView, ...]:
        return tuple(v for u in self.units for v in u.views)

    @property
    def sources(self) -> dict[str, frozenset[FilterKind]]:
        """Each source read by some unit, with the filter kinds applied to it (for indexing)."""
        kinds: dict[str, set[FilterKind]] = {}
        for v in self.views:
            kinds.setdefault(v.source, set()).add(v.filter.kind)
        return {s: frozenset(k) for s, k in sorted(kinds.items())}

    @cached_property
    def routed_sources(self) -> frozenset[str]:
        """Sources some view reads by rule as well as by division (the warnings)."""
        return frozenset(v.source for v in self.views if v.filter.rules is not None)

    @cached_property
    def relations(self) -> tuple[Source, ...]:
        """The same sources as objects that carry their audience and dataset, in name order."""
        return tuple(sorted({Source(v.audience, v.dataset) for v in self.views}, key=lambda s: s.name))

    @cached_property
    def _by_schema(self) -> dict[str, UnitPlan]:
        return {u.schema: u for u in self.units}

    def unit(self, schema: str) -> UnitPlan:
        return self._by_schema[schema]

    def of_tier(self, tier: str) -> tuple[UnitPlan, ...]:
        return tuple(u for u in self.units if u.tier == tier)


def _unit_grants(topology: Topology, day: dt.date) -> dict[tuple[str, str], str]:
    """(unit schema, dataset) → audience, for active grants to towns and villages."""
    return {
        (g.unit, g.dataset): _LEVEL_AUDIENCE[g.level]
        for g in topology.active_grants(day)
        if g.unit.startswith(("town_", "village_"))
    }


def _routed(rules: Mapping[str, Rule], tier: str, schema: str = "") -> tuple[str, ...]:
    return tuple(sorted(code for code, r in rules.items() if r.routed_to(tier, schema)))


def plan_layout(topology: Topology, day: dt.date, rules: Mapping[str, Rule] | None = None) -> Layout:
    """The unit schemas and views for `topology`, with grants judged on `day`.

    Warnings (`collision_warnings`) go to the city and to the units their rules route to
    (`rules`, default screenings/*.yaml): a department reads the granted audience's rows of its
    own rules, a town or village its own division's rows of the rules routed to its tier.
    """
    rules = screening_rules() if rules is None else rules
    datasets = tuple(r for r in RELATIONS if r != WARNINGS)  # datasets, ledgers, topic libraries
    grants = _unit_grants(topology, day)
    everything = UnitFilter("all")
    units = [UnitPlan(
        "city", "city", topology.county_code, topology.county_name or "市本级",
        (*(UnitView("city", d, "city", everything) for d in datasets),
         UnitView("city", WARNINGS, "city", UnitFilter("all", rules=tuple(sorted(rules))))),
    )]
    for dept in topology.departments:
        seen = topology.datasets_of_department(dept.code, day)
        # a ledger or topic library comes with its base dataset, at that access's level
        seen = seen | {name: seen[d.base] for name, d in DERIVED.items() if d.base in seen and name != WARNINGS}
        views = tuple(
            UnitView(dept.schema, d, _LEVEL_AUDIENCE[seen[d]], everything, grant=seen[d] != "owner")
            for d in datasets if d in seen
        )
        if mine := _routed(rules, "department", dept.schema):
            views += (UnitView(dept.schema, WARNINGS, "granted", UnitFilter("all", rules=mine)),)
        units.append(UnitPlan(checked(dept.schema, "unit schema"), "department", dept.code, dept.name, views))
    for tier, members in (("town", topology.towns), ("village", topology.villages)):
        routed = _routed(rules, tier)
        for unit in members:
            f = UnitFilter(tier, unit.code)  # type: ignore[arg-type]
            views = tuple(  # a grant to a town or village widens a dataset, not the ledgers built beside it
                UnitView(unit.schema, d, grants[(unit.schema, d)], f, grant=True, fallback=tier)
                if (unit.schema, d) in grants else UnitView(unit.schema, d, tier, f) for d in datasets
            )
            if routed:
                views += (UnitView(unit.schema, WARNINGS, tier, UnitFilter(tier, unit.code, routed)),)  # type: ignore[arg-type]
            units.append(UnitPlan(checked(unit.schema, "unit schema"), tier, unit.code, unit.name, views))
    for u in units:
        ident(u.schema)
        for v in u.views:
            v.filter.where()  # validates the code
            checked(v.dataset, "dataset")
    return Layout(
        day=day,
        county_code=topology.county_code,
        units=tuple(units),
        town_codes=tuple(t.code for t in topology.towns),
        village_codes=tuple(v.code for v in topology.villages),
    )


# A grant is in force while governance.grants_in_force (the county's date, read when the view is
# read) holds it: it stops at 00:00 Asia/Shanghai after its last day, whether or not anything runs.


def grant_in_force(view: UnitView) -> sql.Composable:
    return sql.SQL("EXISTS (SELECT 1 FROM {} g WHERE g.unit = {} AND g.dataset = {})").format(
        ident(*GRANTS_IN_FORCE.split(".")), sql.Literal(checked(view.schema, "unit schema")),
        sql.Literal(checked(view.dataset, "dataset")))


def _branch(cols: sql.Composable, source: str, conditions: list[sql.Composable]) -> sql.Composed:
    where = sql.SQL(" WHERE {}").format(sql.SQL(" AND ").join(conditions)) if conditions else sql.SQL("")
    return sql.SQL("SELECT {} FROM {}{}").format(cols, ident(PUBLISHED_SCHEMA, source), where)


def unit_view_sql(view: UnitView, column_names: tuple[str, ...], *, replace: bool = False,
                  with_fallback: bool = False) -> sql.Composed:
    """CREATE VIEW <unit>.<dataset> WITH (security_barrier) AS SELECT … FROM published.<source> …

    A granted view reads its rows only while the grant is in force; a town's or village's, when
    `with_fallback` (the fallback has the same columns), reads its own tier's rows after that.
    """
    verb = sql.SQL("CREATE OR REPLACE VIEW" if replace else "CREATE VIEW")
    cols = columns(column_names)
    unit = [p] if (p := view.filter.predicate()) is not None else []
    if not view.grant:
        body = _branch(cols, view.source, unit)
    else:
        body = _branch(cols, view.source, [*unit, grant_in_force(view)])
        if with_fallback and view.fallback_source:
            body = sql.SQL("{} UNION ALL {}").format(body, _branch(
                cols, view.fallback_source, [*unit, sql.SQL("NOT {}").format(grant_in_force(view))]))
    return sql.SQL("{} {} WITH (security_barrier) AS {}").format(verb, ident(view.schema, view.dataset), body)
