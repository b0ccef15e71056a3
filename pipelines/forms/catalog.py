"""What the pipeline's connection tells a form: Chinese labels, the unit's name, the data's date.

These come from governance (column_catalog, units, publish_log), which units cannot read; they
are names and dates, never a row of data. A warehouse that lacks one of them (nothing published
yet, a test database) yields the column names, the schema name and no date instead.
"""

from __future__ import annotations

import datetime as dt

import psycopg

TOKEN_SUFFIX = "_token"
TOKEN_LABEL = "令牌"


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (relation,)).fetchone()[0]


def labels(conn: psycopg.Connection, ledger: str) -> dict[str, str]:
    """column → Chinese label of the ledger's catalogued columns (tag_<code> → the tag's label)."""
    if not _exists(conn, "governance.column_catalog"):
        return {}
    rows = conn.execute("SELECT column_name, label FROM governance.column_catalog WHERE dataset = %s "
                        "AND label IS NOT NULL AND label <> ''", (ledger,)).fetchall()
    return dict(rows)


def label_of(column: str, catalog: dict[str, str]) -> str:
    """The column's label; a token without its own row is its column's label + 令牌; else its name."""
    if column in catalog:
        return catalog[column]
    base = column.removesuffix(TOKEN_SUFFIX)
    if base != column and base in catalog:
        return catalog[base] + TOKEN_LABEL
    return column


def tag_labels(catalog: dict[str, str]) -> dict[str, str]:
    """tag code → label, for the text[] `tags` column (aged_80_plus → 高龄)."""
    return {c.removeprefix("tag_"): label for c, label in catalog.items() if c.startswith("tag_")}


def unit_name(conn: psycopg.Connection, schema: str) -> str:
    if not _exists(conn, "governance.units"):
        return schema
    row = conn.execute("SELECT name FROM governance.units WHERE schema_name = %s", (schema,)).fetchone()
    return row[0] if row and row[0] else schema


def published_date(conn: psycopg.Connection) -> dt.date | None:
    """The latest batch date of the latest publish (a form whose rows carry no batch_date)."""
    if not _exists(conn, "governance.publish_log"):
        return None
    row = conn.execute("SELECT batch_dates FROM governance.publish_log ORDER BY publish_id DESC LIMIT 1"
                       ).fetchone()
    return max(row[0]) if row and row[0] else None
