"""What a publish changes besides redefining the per-tier views, found by comparing plan and catalog.

In the steady state the answer is "nothing": every unit view exists, reads the right
published view with the right columns, is security_barrier and granted to its role only,
so the switch redefines O(tiers × datasets) views and touches no unit relation. The rare
changes are sorted by when they may happen:

- before the switch (invisible or harmless): new unit schemas; placeholder published views
  for sources never published before (`WHERE false`, empty until the switch); new unit
  views, granted at once only when their source is such a placeholder;
- inside the switch (so access changes with the data): views whose source or columns
  change, views of expired grants or removed units, grants on new views over sources
  already published, stray grants revoked;
- after the switch: COMMENT refreshes (metadata that never blocks a reader).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from pipelines.naming import PUBLISHED_SCHEMA, READ_AUDIT_ROLE
from pipelines.publish import catalog
from pipelines.publish.build import BuiltVersion
from pipelines.publish.catalog import Shape
from pipelines.publish.layout import UnitView

ViewKey = tuple[str, str]


class LayoutError(RuntimeError):
    """A unit schema holds a relation that is not ours where a unit view must go."""


@dataclass
class Changes:
    new_sources: list[str] = field(default_factory=list)  # placeholder before, real at the switch
    replaced_sources: list[str] = field(default_factory=list)  # CREATE OR REPLACE VIEW at the switch
    recreated_sources: list[str] = field(default_factory=list)  # column list changed: DROP … CASCADE
    source_comments: list[str] = field(default_factory=list)  # replaced sources whose COMMENTs changed
    unused_sources: list[str] = field(default_factory=list)  # no unit reads them: dropped after
    new_schemas: list[str] = field(default_factory=list)
    schema_grants: list[str] = field(default_factory=list)
    schema_revokes: dict[str, frozenset[str]] = field(default_factory=dict)
    prepare_views: list[UnitView] = field(default_factory=list)
    prepare_grants: list[UnitView] = field(default_factory=list)
    switch_drops: list[ViewKey] = field(default_factory=list)
    switch_views: list[UnitView] = field(default_factory=list)
    switch_grants: list[UnitView] = field(default_factory=list)
    switch_revokes: dict[ViewKey, frozenset[str]] = field(default_factory=dict)
    comment_views: list[UnitView] = field(default_factory=list)  # after the switch
    locked_unit_views: list[ViewKey] = field(default_factory=list)  # existing views the switch drops

    @property
    def unit_relations_in_switch(self) -> int:
        """Unit views the switch transaction will lock (0 in the steady state)."""
        return len(set(self.locked_unit_views) | {(v.schema, v.dataset) for v in self.switch_views})

    def summary(self) -> dict[str, int]:
        return {
            "new sources": len(self.new_sources),
            "replaced sources": len(self.replaced_sources),
            "recreated sources": len(self.recreated_sources),
            "new unit schemas": len(self.new_schemas),
            "unit views created before the switch": len(self.prepare_views),
            "unit views (re)created in the switch": len(self.switch_views),
            "unit views dropped in the switch": len(self.switch_drops),
            "grants in the switch": len(self.switch_grants),
            "comment refreshes": len(self.comment_views),
        }


def falls_back(v: UnitView, shapes: dict[str, Shape]) -> bool:
    """Does a granted town or village view read its own tier once the grant expires (same columns)?"""
    return (v.grant and v.fallback_source is not None and v.fallback_source in shapes
            and shapes[v.fallback_source].columns == shapes[v.source].columns)


def view_sources(v: UnitView, shapes: dict[str, Shape]) -> frozenset[str]:
    """The published relations a unit view reads."""
    return frozenset({v.source, v.fallback_source}) if falls_back(v, shapes) else frozenset({v.source})


def view_comment(view: UnitView, unit_name: str, shape: Shape, label: str) -> str:
    """The COMMENT of a unit view: what it holds, for whom, under which policy."""
    base = shape.comment or f"{label}（{view.audience} 策略）"
    return f"{base} — {unit_name}（{view.schema}）"




def plan_changes(conn: psycopg.Connection, built: BuiltVersion) -> Changes:
    """Compare the built version's layout with the catalog; see the module docstring."""
    from pipelines.derived import relation_label

    layout, shapes = built.layout, built.shapes
    ch = Changes()
    published = catalog.shapes(conn, PUBLISHED_SCHEMA, catalog.views_in(conn, PUBLISHED_SCHEMA))
    for s in layout.sources:
        if s not in published:
            ch.new_sources.append(s)
            ch.replaced_sources.append(s)
        elif published[s].columns != shapes[s].columns:
            ch.recreated_sources.append(s)
        else:
            ch.replaced_sources.append(s)
            old = published[s]
            if old.column_comments != shapes[s].column_comments or old.comment != shapes[s].comment:
                ch.source_comments.append(s)
    ch.unused_sources = sorted(set(published) - set(layout.sources))
    recreated, new = set(ch.recreated_sources), set(ch.new_sources)
    comments_changed = set(ch.source_comments)

    unit_schemas = [u.schema for u in layout.units]
    have_schemas = catalog.schema_grantees(conn, unit_schemas)
    for schema in unit_schemas:
        if schema not in have_schemas:
            ch.new_schemas.append(schema)
            ch.schema_grants.append(schema)
            continue
        grantees, _public = have_schemas[schema]
        if schema not in grantees:
            ch.schema_grants.append(schema)
        if grantees - {schema}:
            ch.schema_revokes[schema] = grantees - {schema}

    existing = catalog.unit_views(conn)
    desired = {(v.schema, v.dataset): v for v in layout.views}
    occupied = catalog.relations_in(conn, unit_schemas) - set(existing)
    clash = sorted(occupied & set(desired))
    if clash:
        names = ", ".join(f"{s}.{n}" for s, n in clash[:5])
        raise LayoutError(f"{len(clash)} unit view name(s) are taken by relations huiliu did not create: "
                          f"{names}")
    names = {u.schema: u.name for u in layout.units}
    for key, v in desired.items():
        e = existing.get(key)
        shape = shapes[v.source]
        reads = view_sources(v, shapes)
        if reads & recreated:
            if e is not None and not e.sources & recreated:
                ch.switch_drops.append(key)
            ch.switch_views.append(v)
            ch.switch_grants.append(v)
        elif e is None:
            ch.prepare_views.append(v)
            (ch.prepare_grants if reads <= new else ch.switch_grants).append(v)
        elif (e.sources != reads or e.guarded != v.grant or e.column_count != len(shape.columns)
              or not e.security_barrier):
            if not e.sources & recreated:
                ch.switch_drops.append(key)
            ch.switch_views.append(v)
            ch.switch_grants.append(v)
        else:
            if v.schema not in e.grantees:
                ch.switch_grants.append(v)
            if e.grantees - {v.schema, READ_AUDIT_ROLE}:  # the audit role's SELECT is what pgaudit logs
                ch.switch_revokes[key] = e.grantees - {v.schema, READ_AUDIT_ROLE}
            wanted = view_comment(v, names[v.schema], shape, relation_label(v.dataset))
            if v.source in comments_changed or (e.comment or "") != wanted:
                ch.comment_views.append(v)
    for key, e in existing.items():
        if key not in desired and not e.sources & recreated:
            ch.switch_drops.append(key)
    drops = set(ch.switch_drops)
    ch.locked_unit_views = [k for k, e in existing.items() if e.sources & recreated or k in drops]
    ch.comment_views += ch.switch_views
    return ch
