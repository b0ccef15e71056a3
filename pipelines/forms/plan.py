"""What a form may read, judged by the unit's own view, and the one SELECT that reads it.

The columns a unit may see are those of its ledger view as its role sees them (pg_attribute
with has_column_privilege, on the unit's connection): a column its policy drops is absent
from the view, so asking for it is refused naming the column, never answered with blanks.
The SELECT is composed with psycopg.sql from names that templates.py or the command line
validated: no text a person wrote reaches the server as SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from pipelines.access.errors import Refused
from pipelines.forms.templates import OrderKey, Template, check_ledger, tag_column
from pipelines.naming import NamingError, checked, ident

VISIBLE = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid
WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('v', 'r', 'm', 'p', 'f')
  AND a.attnum > 0 AND NOT a.attisdropped
  AND has_schema_privilege(n.oid, 'USAGE') AND has_column_privilege(c.oid, a.attnum, 'SELECT')
ORDER BY a.attnum
"""
# Ties broken the same way every time, by the keys the unit sees.
DEFAULT_ORDER = {"person_ledger": ("division_code", "household_id_token", "id_number_token"),
                 "enterprise_ledger": ("division_code", "uscc")}
DATE_COLUMN = "batch_date"


@dataclass(frozen=True)
class Request:
    """A form asked for: a template's, or a custom one (columns None: every visible base column)."""

    unit: str
    ledger: str
    tags: tuple[str, ...] = ()
    columns: tuple[str, ...] | None = None
    order_by: tuple[OrderKey, ...] = ()
    template: Template | None = None

    @classmethod
    def of_template(cls, unit: str, t: Template) -> Request:
        return cls(unit, t.ledger, t.tags, t.columns, t.order_by, t)

    @classmethod
    def custom(cls, unit: str, ledger: str, tags: list[str] | tuple[str, ...] = (),
               columns: list[str] | tuple[str, ...] | None = None) -> Request:
        """A custom form from the command line's names, each validated (Refused when malformed)."""
        try:
            check_ledger(ledger)
            tags = tuple(checked(t, "tag") for t in tags)
            for t in tags:
                tag_column(t)
            cols = None if columns is None else tuple(checked(c, "column") for c in columns)
        except NamingError as exc:
            raise Refused(str(exc)) from exc
        if cols is not None and (not cols or len(set(cols)) != len(cols)):
            raise Refused("--columns must name at least one column, each once")
        return cls(unit, ledger, tags, cols)


@dataclass(frozen=True)
class Plan:
    request: Request
    columns: tuple[str, ...]  # what the form shows, in order
    types: tuple[str, ...]  # their PostgreSQL types (format_type)
    date_index: int | None  # where batch_date is in each row (last, hidden, when not shown)
    query: sql.Composed

    @property
    def hidden_date(self) -> bool:
        return self.date_index is not None and self.date_index >= len(self.columns)


def visible_columns(unit_conn: psycopg.Connection, schema: str, ledger: str) -> dict[str, str]:
    """Column → type of <schema>.<ledger> as the connection's role sees it (empty: no such view for it)."""
    rows = unit_conn.execute(VISIBLE, (checked(schema, "unit"), check_ledger(ledger))).fetchall()
    return dict(rows)


def why_not(req: Request, visible: dict[str, str], known: set[str]) -> str | None:
    """Why the unit may not have this form (None: it may). `known`: the ledger's catalogued columns."""
    if not visible:
        return f"unit {req.unit} has no {req.ledger} it may read (it neither owns nor is granted that data)"
    problems = []
    for what, names in (("tag", req.tags), ("column", req.columns or ()),
                        ("order_by column", tuple(o.column for o in req.order_by))):
        absent = [(n, tag_column(n) if what == "tag" else n) for n in names]
        absent = [(n, c) for n, c in absent if c not in visible]
        unknown = [n for n, c in absent if known and c not in known]
        hidden = [n for n, c in absent if n not in unknown]
        if unknown:
            problems.append(f"{req.ledger} has no {what} {', '.join(unknown)}")
        if hidden:
            problems.append(f"unit {req.unit} may not see {what}(s) {', '.join(hidden)} of {req.ledger} "
                            "(absent from its view)")
    return "; ".join(problems) or None


def plan(req: Request, visible: dict[str, str], known: set[str] = frozenset()) -> Plan:
    """The checked form and its SELECT; Refused with the reason when the unit may not have it."""
    reason = why_not(req, visible, known)
    if reason:
        raise Refused(reason)
    columns = req.columns or tuple(c for c in visible if not c.startswith("tag_"))
    selected = list(columns)
    date_index = None
    if DATE_COLUMN in visible:
        if DATE_COLUMN not in selected:
            selected.append(DATE_COLUMN)
        date_index = selected.index(DATE_COLUMN)
    keys = list(req.order_by)
    named = {k.column for k in keys}
    keys += [OrderKey(c) for c in DEFAULT_ORDER[req.ledger] if c in visible and c not in named]
    query = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(ident(c) for c in selected), ident(req.unit, req.ledger))
    if req.tags:
        query += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(ident(tag_column(t)) for t in req.tags)
    if keys:
        query += sql.SQL(" ORDER BY ") + sql.SQL(", ").join(
            sql.SQL("{} DESC NULLS LAST" if k.descending else "{} ASC NULLS LAST").format(ident(k.column))
            for k in keys)
    return Plan(req, tuple(columns), tuple(visible[c] for c in columns), date_index, query)
