"""What a failed expectation looks like, without a value: counts and masked shapes only.

When GX says an expectation failed, the gate counts the offending rows itself and shows at
most three value *shapes* (digits → 9, letters → a, other characters → 字), never a value.
Errors are redacted: a database error may quote the value it choked on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql

from pipelines.gates.expectations.suites import Relation, columns_named

SHAPE_SAMPLES = 3


_QUOTED = re.compile(r"\"([^\"]*)\"|'([^']*)'")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_.]*$")


def redact(message: str) -> str:
    """First line of an error, quoted fragments that are not identifiers replaced by "…".

    A database error may quote the value it choked on ("invalid input syntax …: '张三'").
    """
    first = (message.strip().splitlines() or ["error"])[0]
    return _QUOTED.sub(lambda m: m.group(0) if _IDENTIFIER.match(m.group(1) or m.group(2) or "") else '"…"',
                       first)[:300]


_SHAPE = ("regexp_replace(regexp_replace(regexp_replace(left({}::text, 40), '[0-9]', '9', 'g'), "
          "'[A-Za-z]', 'a', 'g'), '[^9a*·. :/-]', '字', 'g')")


_NOT_MATCH = ("expect_column_values_to_not_match_regex_list", "expect_column_values_to_not_match_regex")


def _param(value: Any, params: Mapping[str, Any]) -> Any:
    if isinstance(value, Mapping) and "$PARAMETER" in value:
        return params.get(value["$PARAMETER"])
    return value


def probe(conn: psycopg.Connection, rel: Relation, cfg: Mapping[str, Any], params: Mapping[str, Any]
          ) -> dict[str, Any]:
    """Rows behind a failed expectation, counted in the database, with masked shapes only."""
    kind, kw = cfg["type"], cfg.get("kwargs", {})
    table = sql.Identifier(rel.schema, rel.name)
    col = sql.Identifier(kw["column"]) if isinstance(kw.get("column"), str) else None
    cond: sql.Composable | None = None
    args: list[Any] = []
    try:
        if kind == "expect_column_values_to_not_be_null" and col:
            cond = sql.SQL("{} IS NULL").format(col)
        elif kind == "expect_column_values_to_match_regex" and col:
            cond, args = sql.SQL("{c} IS NOT NULL AND {c}::text !~ %s").format(c=col), [kw["regex"]]
        elif kind in _NOT_MATCH:
            patterns = list(kw.get("regex_list") or [kw.get("regex")])
            cond, args = sql.SQL("{}::text ~ ANY(%s)").format(col), [patterns]
            named = cfg.get("meta", {}).get("huiliu", {}).get("patterns") or {p: p for p in patterns}
            hits = conn.execute(sql.SQL("SELECT {} FROM {} WHERE {}").format(
                sql.SQL(", ").join(sql.SQL("count(*) FILTER (WHERE {}::text ~ %s)").format(col) for _ in named),
                table, cond), [*named.values(), *args]).fetchone()
            matched = {str(label): n for label, n in zip(named, hits, strict=True) if n}
        elif kind == "expect_column_values_to_be_in_set" and col:
            values = [str(v) for v in _param(kw["value_set"], params) or []]
            cond, args = sql.SQL("{c} IS NOT NULL AND {c}::text <> ALL(%s)").format(c=col), [values]
        elif kind == "expect_column_values_to_be_between" and col:
            typ = sql.SQL(rel.type_of(kw["column"]) or "text")
            lo, hi = _param(kw.get("min_value"), params), _param(kw.get("max_value"), params)
            cond = sql.SQL("{c} < %s::{t} OR {c} > %s::{t}").format(c=col, t=typ)
            args = [lo, hi]
        elif kind in ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"):
            cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns_named(kw))
            n, rows = conn.execute(sql.SQL(
                "SELECT count(*), coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM {} GROUP BY {} "
                "HAVING count(*) > 1) d").format(table, cols)).fetchone()
            return {"duplicated_keys": n, "rows_with_duplicated_keys": int(rows)}
        elif kind == "expect_table_row_count_to_equal":
            n = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()[0]
            return {"rows": n, "expected_rows": _param(kw.get("value"), params)}
        elif kind == "expect_query_to_return_no_rows":
            batch = sql.SQL("(SELECT * FROM {}) AS subselect").format(table).as_string(conn)
            query = kw["unexpected_rows_query"].replace("{batch}", batch)
            n = conn.execute(sql.SQL("SELECT count(*) FROM ({}) AS q").format(sql.SQL(query))).fetchone()[0]
            return {"unexpected_rows": n}
        if cond is None:
            return {}
        shape = sql.SQL(_SHAPE).format(col if col is not None else sql.SQL("NULL"))
        rows = conn.execute(sql.SQL(
            "SELECT {s}, count(*) FROM {t} WHERE {c} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {n}").format(
            s=shape, t=table, c=cond, n=sql.Literal(SHAPE_SAMPLES)), args).fetchall()
        out: dict[str, Any] = {"unexpected_rows": _count(conn, table, cond, args),
                               "shapes": [{"shape": s, "rows": n} for s, n in rows]}
        if kind in _NOT_MATCH:
            out["matched"] = matched
        return out
    except psycopg.Error as exc:
        return {"probe_error": type(exc).__name__}


def _count(conn: psycopg.Connection, table: sql.Composable, cond: sql.Composable, args: list[Any]) -> int:
    return conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE {}").format(table, cond), args).fetchone()[0]
