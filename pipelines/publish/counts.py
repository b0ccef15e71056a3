"""Rows per division in each built source, and from them the rows every unit view shows.

One `GROUP BY division_code` per source table (one scan each, a few hundred groups) gives
every unit's count by arithmetic: a village reads its code, a town the codes under it, the
city and departments everything. The gates and the operator's report both use these
numbers, so neither ever issues one query per unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from pipelines.naming import ident
from pipelines.publish.layout import Layout, UnitView

COUNT = "SELECT division_code, count(*) FROM {} GROUP BY 1"
ROUTED_COUNT = "SELECT division_code, rule, count(*) FROM {} GROUP BY 1, 2"  # the warnings: by rule too


@dataclass(frozen=True)
class VersionCounts:
    by_source: Mapping[str, Mapping[str | None, int]]  # source → division_code → rows
    # routed sources (the warnings) → (division_code, rule) → rows: views that keep their own rules
    by_rule: Mapping[str, Mapping[tuple[str | None, str], int]] = field(default_factory=dict)
    _per_town: dict[str, dict[str, int]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def total(self, source: str) -> int:
        return sum(self.by_source[source].values())

    def town_rows(self, source: str) -> dict[str, int]:
        """Rows per town code (first nine digits), computed once per source."""
        if source not in self._per_town:
            per: dict[str, int] = {}
            for code, n in self.by_source[source].items():
                if code is not None:
                    per[code[:9]] = per.get(code[:9], 0) + n
            self._per_town[source] = per
        return self._per_town[source]

    def view_rows(self, view: UnitView) -> int:
        """Rows `view` shows: a dictionary lookup, not a scan (the filters mirror the SQL ones)."""
        kind, code = view.filter.kind, view.filter.code
        if view.filter.rules is not None:
            return sum(n for (c, rule), n in self.by_rule.get(view.source, {}).items()
                       if c is not None and view.filter.admits(c, rule))
        if kind == "all":
            return self.total(view.source)
        if kind == "town":
            return self.town_rows(view.source).get(code, 0)
        return self.by_source[view.source].get(code, 0)

    def unit_rows(self, layout: Layout) -> dict[str, dict[str, int]]:
        """unit schema → dataset → rows its view shows (datasets it lacks are absent)."""
        return {u.schema: {v.dataset: self.view_rows(v) for v in u.views} for u in layout.units}

    def rows_by_tier(self, layout: Layout) -> dict[str, dict]:
        """The publish_log shape: the city per dataset, the other tiers per unit and dataset."""
        units = self.unit_rows(layout)
        out: dict[str, dict] = {"city": units.get("city", {})}
        for tier in ("department", "town", "village"):
            out[tier] = {u.schema: units[u.schema] for u in layout.of_tier(tier)}
        return out


def count_source(conn: psycopg.Connection, schema: str, source: str, routed: bool = False
                 ) -> tuple[dict[str | None, int], dict[tuple[str | None, str], int] | None]:
    """Rows per division_code of one table (and per rule, for a routed one): one scan."""
    if not routed:
        return dict(conn.execute(sql.SQL(COUNT).format(ident(schema, source))).fetchall()), None
    by_rule = {(code, rule): n for code, rule, n in
               conn.execute(sql.SQL(ROUTED_COUNT).format(ident(schema, source))).fetchall()}
    by_code: dict[str | None, int] = {}
    for (code, _), n in by_rule.items():
        by_code[code] = by_code.get(code, 0) + n
    return by_code, by_rule
