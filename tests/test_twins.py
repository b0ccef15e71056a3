"""What counts as a twin (pipelines/twins.py): only a view that shows exactly one table's rows.

The version build moves a twin with its table and the gates validate the table once for both,
so a view that filters, joins, computes, renames, reorders or drops a column must never pass
for one: each lookalike below differs from a plain alias in one way, on the real server.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from pipelines.twins import plain_select, twin_tables

SCHEMA = "twins_probe"

VIEWS = {
    "plain": "SELECT * FROM {s}.t",  # the twin dbt writes (tier_twins.sql)
    "listed": "SELECT x.division_code, x.name, x.n FROM {s}.t AS x",  # the same, spelled out
    "filtered": "SELECT * FROM {s}.t WHERE n > 1",
    "computed": "SELECT division_code, upper(name) AS name, n FROM {s}.t",
    "renamed": "SELECT division_code, name AS n, n AS name FROM {s}.t",
    "reordered": "SELECT name, division_code, n FROM {s}.t",
    "narrower": "SELECT division_code, name FROM {s}.t",
    "distinct": "SELECT DISTINCT * FROM {s}.t",
    "limited": "SELECT * FROM {s}.t LIMIT 1",
    "joined": "SELECT t.* FROM {s}.t JOIN {s}.other o ON o.division_code = t.division_code",
    "unioned": "SELECT * FROM {s}.t UNION ALL SELECT * FROM {s}.t",
    "of_other": "SELECT * FROM {s}.other",  # a twin too, of the other table
    "of_view": "SELECT * FROM {s}.plain",  # a view over a view: its table is not one relation away
    "cast": "SELECT division_code, name::varchar(20) AS name, n FROM {s}.t",
}


@pytest.fixture
def probe(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    conn.execute(f"CREATE SCHEMA {SCHEMA}")
    conn.execute(f"CREATE TABLE {SCHEMA}.t (division_code text, name text, n int)")
    conn.execute(f"CREATE TABLE {SCHEMA}.other (division_code text, name varchar(3), n bigint)")
    for name, body in VIEWS.items():
        conn.execute(f"CREATE VIEW {SCHEMA}.{name} AS {body.format(s=SCHEMA)}")
    yield conn
    conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


def test_only_a_plain_select_of_every_column_is_a_twin(probe: psycopg.Connection) -> None:
    found = twin_tables(probe, SCHEMA, [*VIEWS, "t", "other"])
    assert found == {"plain": "t", "listed": "t", "of_other": "other"}


def test_twins_are_looked_for_among_the_named_relations_only(probe: psycopg.Connection) -> None:
    assert twin_tables(probe, SCHEMA, ["listed", "filtered"]) == {"listed": "t"}
    assert twin_tables(probe, "public", [*VIEWS]) == {}


def test_the_definition_check_reads_the_sql() -> None:
    cols = ["division_code", "name", "n"]
    assert plain_select(" SELECT t.division_code,\n    t.name,\n    t.n\n   FROM s.t;", "t", cols)
    assert not plain_select("SELECT t.division_code, t.name, t.n FROM s.t ORDER BY 1", "t", cols)
    assert not plain_select("SELECT t.division_code, t.name, t.n FROM s.t TABLESAMPLE SYSTEM (1)", "t", cols)
    assert not plain_select("SELECT x.division_code, x.name, x.n FROM s.t, s.x", "t", cols)
    assert not plain_select("SELECT y.division_code, y.name, y.n FROM s.t x", "t", cols)  # another qualifier
    assert not plain_select("SELECT a, b, c FROM s.t x(a, b, c)", "t", ["a", "b", "c"])
    assert not plain_select("WITH t AS (SELECT 1) SELECT division_code, name, n FROM t", "t", cols)
    assert not plain_select("SELECT division_code, name, n FROM (SELECT * FROM s.t) t", "t", cols)
    assert not plain_select("not sql at all (", "t", cols)
