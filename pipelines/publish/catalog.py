"""What the database already holds, read from the catalog in a few set-based queries.

The catalog is the truth about the published layout: a unit view is any view whose rule
reads a relation in `published`; its source, columns, security_barrier flag and grantees
come from pg_depend, pg_attribute, reloptions and its ACL. Comparing this with the plan
tells the switch what (rarely) has to change beyond redefining the per-tier views.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg

from pipelines.naming import GRANTS_IN_FORCE, PUBLISHED_SCHEMA, version_number

Column = tuple[str, str]  # (name, formatted type)


@dataclass(frozen=True)
class Shape:
    """A relation's columns (in order, with types) and its COMMENTs."""

    columns: tuple[Column, ...]
    column_comments: dict[str, str] = field(default_factory=dict, compare=False)
    comment: str | None = field(default=None, compare=False)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.columns)


@dataclass(frozen=True)
class ExistingView:
    schema: str
    name: str
    sources: frozenset[str]  # the relations in `published` it reads (two for a grant with a fallback)
    column_count: int
    security_barrier: bool
    grantees: frozenset[str]  # roles holding SELECT, the owner excluded
    comment: str | None = field(default=None, compare=False)
    guarded: bool = False  # it reads governance.grants_in_force (a grant, judged at read time)


SHAPES = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
       col_description(c.oid, a.attnum), obj_description(c.oid, 'pg_class')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm', 'p') AND c.relname = ANY(%s)
ORDER BY c.relname, a.attnum
"""

# One row per unit view. A view depends on each column it reads (refobjsubid = attnum) or,
# reading none, on the relation (0): subids 0 and 1 find every unit view (they all read the
# first column) at an eighth of the catalog rows. Columns are compared by count: a source
# whose column list changed is recreated with all its views anyway.
UNIT_VIEWS = """
SELECT DISTINCT ON (v.oid) vn.nspname, v.relname,
       (SELECT array_agg(DISTINCT s2.relname) FROM pg_rewrite r2
        JOIN pg_depend d2 ON d2.objid = r2.oid AND d2.classid = 'pg_rewrite'::regclass
                         AND d2.refclassid = 'pg_class'::regclass
        JOIN pg_class s2 ON s2.oid = d2.refobjid AND s2.oid <> v.oid
        JOIN pg_namespace n2 ON n2.oid = s2.relnamespace AND n2.nspname = %(published)s
        WHERE r2.ev_class = v.oid),
       coalesce(v.reloptions @> '{security_barrier=true}', false),
       coalesce((SELECT array_agg(DISTINCT r.rolname) FROM aclexplode(v.relacl) x
                 JOIN pg_roles r ON r.oid = x.grantee
                 WHERE x.privilege_type = 'SELECT' AND x.grantee <> v.relowner), '{}'),
       v.relnatts, td.description,
       EXISTS (SELECT 1 FROM pg_rewrite r3
               JOIN pg_depend d3 ON d3.objid = r3.oid AND d3.classid = 'pg_rewrite'::regclass
                                AND d3.refclassid = 'pg_class'::regclass
               WHERE r3.ev_class = v.oid AND d3.refobjid = to_regclass(%(grants)s))
FROM pg_class src
JOIN pg_namespace sn ON sn.oid = src.relnamespace AND sn.nspname = %(published)s
JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = src.oid
                AND d.refobjsubid IN (0, 1) AND d.classid = 'pg_rewrite'::regclass
JOIN pg_rewrite r ON r.oid = d.objid
JOIN pg_class v ON v.oid = r.ev_class AND v.relkind = 'v' AND v.oid <> src.oid
JOIN pg_namespace vn ON vn.oid = v.relnamespace AND vn.nspname <> %(published)s
LEFT JOIN pg_description td ON td.objoid = v.oid AND td.classoid = 'pg_class'::regclass AND td.objsubid = 0
"""

RELATIONS_IN = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S')
"""

SCHEMA_GRANTEES = """
SELECT n.nspname,
       coalesce((SELECT array_agg(DISTINCT r.rolname) FROM aclexplode(n.nspacl) x
                 JOIN pg_roles r ON r.oid = x.grantee
                 WHERE x.privilege_type = 'USAGE' AND x.grantee <> n.nspowner), '{}'),
       coalesce((SELECT bool_or(x.grantee = 0) FROM aclexplode(n.nspacl) x), false)
FROM pg_namespace n WHERE n.nspname = ANY(%s)
"""

REFERENCED_VERSIONS = """
SELECT DISTINCT tn.nspname
FROM pg_depend d
JOIN pg_rewrite r ON r.oid = d.objid
JOIN pg_class v ON v.oid = r.ev_class
JOIN pg_namespace vn ON vn.oid = v.relnamespace AND vn.nspname = %s
JOIN pg_class t ON t.oid = d.refobjid
JOIN pg_namespace tn ON tn.oid = t.relnamespace
WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
"""


def shapes(conn: psycopg.Connection, schema: str, names: Iterable[str]) -> dict[str, Shape]:
    """Columns and comments of the named relations of one schema (missing ones are absent)."""
    rows = conn.execute(SHAPES, (schema, list(names))).fetchall()
    cols: dict[str, list[Column]] = {}
    comments: dict[str, dict[str, str]] = {}
    table_comment: dict[str, str | None] = {}
    for rel, col, typ, col_comment, rel_comment in rows:
        cols.setdefault(rel, []).append((col, typ))
        if col_comment:
            comments.setdefault(rel, {})[col] = col_comment
        table_comment[rel] = rel_comment
    return {
        rel: Shape(tuple(c), comments.get(rel, {}), table_comment.get(rel)) for rel, c in cols.items()
    }


def unit_views(conn: psycopg.Connection) -> dict[tuple[str, str], ExistingView]:
    """Every view outside `published` that reads a `published` relation, by (schema, name)."""
    out = {}
    for schema, name, sources, barrier, grantees, natts, comment, guarded in conn.execute(
        UNIT_VIEWS, {"published": PUBLISHED_SCHEMA, "grants": GRANTS_IN_FORCE}
    ).fetchall():
        out[(schema, name)] = ExistingView(schema, name, frozenset(sources or ()), natts, bool(barrier),
                                           frozenset(grantees), comment, bool(guarded))
    return out


def relations_in(conn: psycopg.Connection, schemas: Iterable[str]) -> set[tuple[str, str]]:
    return {(s, n) for s, n in conn.execute(RELATIONS_IN, (list(schemas),)).fetchall()}


def schema_grantees(conn: psycopg.Connection, schemas: Iterable[str]) -> dict[str, tuple[frozenset[str], bool]]:
    """Existing schemas → (roles with USAGE other than the owner, whether PUBLIC has any right)."""
    return {
        s: (frozenset(g), bool(p)) for s, g, p in conn.execute(SCHEMA_GRANTEES, (list(schemas),)).fetchall()
    }


def version_schemas(conn: psycopg.Connection) -> dict[int, str]:
    """All version_NNNNNN schemas, by number."""
    out = {}
    for (name,) in conn.execute("SELECT nspname FROM pg_namespace").fetchall():
        n = version_number(name)
        if n is not None:
            out[n] = name
    return out


def published_versions(conn: psycopg.Connection) -> set[str]:
    """Version schemas that some `published` view reads right now."""
    return {r[0] for r in conn.execute(REFERENCED_VERSIONS, (PUBLISHED_SCHEMA,)).fetchall()
            if version_number(r[0]) is not None}


def existing_roles(conn: psycopg.Connection, names: Iterable[str]) -> set[str]:
    return {r[0] for r in conn.execute(
        "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (list(names),)).fetchall()}


def views_in(conn: psycopg.Connection, schema: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind = 'v'", (schema,)).fetchall()]


# Views in `published` that read a given version schema, with their definitions.
VERSION_READERS = """
SELECT DISTINCT v.relname, pg_get_viewdef(v.oid)
FROM pg_depend d
JOIN pg_rewrite r ON r.oid = d.objid
JOIN pg_class v ON v.oid = r.ev_class
JOIN pg_namespace vn ON vn.oid = v.relnamespace AND vn.nspname = %s
JOIN pg_class t ON t.oid = d.refobjid AND t.oid <> v.oid
JOIN pg_namespace tn ON tn.oid = t.relnamespace AND tn.nspname = %s
WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
"""


def tables_in(conn: psycopg.Connection, schema: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p')", (schema,)).fetchall()]
