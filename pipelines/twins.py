"""Relations that are another relation under a second name: dbt's tier twins.

When two audiences' policies leave a relation the same, dbt writes it once and the later
audience's model is a view over that table (dbt_project/macros/tier_twins.sql). The version
build then moves one table and the gates validate it once, so this module decides, from the
database alone, what counts as a twin: a view whose only dependency is one table of the same
schema, with the same columns in the same order and types, defined as a plain SELECT of each
column by name — no filter, join, grouping, DISTINCT, LIMIT or expression. Its rows are then
the table's rows; a view that merely looks alike is a relation of its own.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg
import sqlglot
from sqlglot import exp

# A view with exactly one referenced relation, a table in its own schema, and the same
# (name, type) columns in order; the definition is checked apart (plain_select).
CANDIDATES = """
WITH refs AS (
    SELECT v.oid AS view, array_agg(DISTINCT d.refobjid) AS refs,
           bool_or(d.refclassid <> 'pg_class'::regclass) AS other
    FROM pg_class v
    JOIN pg_namespace n ON n.oid = v.relnamespace AND n.nspname = %(schema)s
    JOIN pg_rewrite r ON r.ev_class = v.oid
    JOIN pg_depend d ON d.objid = r.oid AND d.classid = 'pg_rewrite'::regclass
                    AND NOT (d.refclassid = 'pg_class'::regclass AND d.refobjid = v.oid)
    WHERE v.relkind = 'v' AND v.relname = ANY(%(names)s)
    GROUP BY v.oid
), cols AS (
    SELECT a.attrelid, array_agg(a.attname::text ORDER BY a.attnum) AS names,
           array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum) AS types
    FROM pg_attribute a
    WHERE a.attnum > 0 AND NOT a.attisdropped
      AND a.attrelid IN (SELECT view FROM refs UNION SELECT refs[1] FROM refs)
    GROUP BY a.attrelid
)
SELECT v.relname, t.relname, pg_get_viewdef(v.oid), vc.names
FROM refs
JOIN pg_class v ON v.oid = refs.view
JOIN pg_class t ON t.oid = refs.refs[1] AND t.relkind = 'r' AND t.relnamespace = v.relnamespace
JOIN cols vc ON vc.attrelid = v.oid
JOIN cols tc ON tc.attrelid = t.oid
WHERE cardinality(refs.refs) = 1 AND NOT refs.other AND vc.names = tc.names AND vc.types = tc.types
"""

def _only(node: exp.Expression, allowed: set[str]) -> bool:
    """The node sets no argument but `allowed` (what a plain alias needs, nothing else)."""
    return all(k in allowed for k, v in node.args.items() if v not in (None, False, []))


def plain_select(definition: str, table: str, names: Iterable[str]) -> bool:
    """Whether `definition` is `SELECT <names, each a bare column, in order> FROM <table> [alias]`."""
    try:
        tree = sqlglot.parse_one(definition, read="postgres")
    except sqlglot.errors.ParseError:
        return False
    if not isinstance(tree, exp.Select) or not _only(tree, {"expressions", "from", "from_"}):
        return False
    source = tree.args.get("from") or tree.args.get("from_")
    if source is None or not _only(source, {"this"}) or not isinstance(source.this, exp.Table):
        return False
    rel = source.this
    if rel.name != table or not _only(rel, {"this", "db", "catalog", "alias"}):
        return False
    alias = rel.args.get("alias")
    if alias is not None and not _only(alias, {"this"}):
        return False
    qualifier = alias.name if alias is not None else table
    picked = []
    for e in tree.expressions:
        if not isinstance(e, exp.Column) or not _only(e, {"this", "table"}) or e.table not in ("", qualifier):
            return False
        picked.append(e.name)
    return picked == list(names)


def twin_tables(conn: psycopg.Connection, schema: str, names: Iterable[str]) -> dict[str, str]:
    """Among the named relations of `schema`, each twin view → the table whose rows it shows."""
    out = {}
    for view, table, definition, cols in conn.execute(
            CANDIDATES, {"schema": schema, "names": list(names)}).fetchall():
        if plain_select(definition, table, cols):
            out[view] = table
    return out
