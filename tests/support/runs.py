"""Whole `huiliu run`s in databases of their own, and what they publish, for the reliability tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from pipelines.warehouse import drop_database, ensure_database, with_database

HUILIU = str(Path(sys.executable).parent / "huiliu")


@contextmanager
def fresh_databases(warehouse_url: str, *suffixes: str) -> Iterator[list[str]]:
    """Empty databases `<test database>_<suffix>` on the test server, dropped afterwards."""
    admin = with_database(warehouse_url, "postgres")
    base = warehouse_url.rsplit("/", 1)[1]
    names = [f"{base}_{s}" for s in suffixes]
    for n in names:
        drop_database(admin, n)
        ensure_database(admin, n)
    try:
        yield [with_database(warehouse_url, n) for n in names]
    finally:
        for n in names:
            drop_database(admin, n)


def huiliu_env(url: str, **extra: str) -> dict[str, str]:
    """A `huiliu run`'s environment: that database, an ephemeral Dagster instance."""
    return {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"} | {"HUILIU_DATABASE_URL": url} | extra


# What a database's own history decides: a warning's id and life record which states it published
# (two databases that published different sequences agree on what is found, not on these, nor on
# the resolved warnings a state published in between leaves behind).
HISTORY = {"collision_warnings": ("warning_id", "first_seen", "last_seen", "status")}
FOUND_NOW = sql.SQL(" WHERE t.status <> 'resolved'")


def published_content(url: str) -> dict[str, tuple[int, str]]:
    """Rows and an order-independent hash of every published relation (tokens included; for the
    warnings, what the state shows — rule, subject, evidence of those not resolved — without the
    columns of their history)."""
    with psycopg.connect(url, autocommit=True) as db:
        if db.execute("SELECT to_regnamespace('published')").fetchone()[0] is None:
            return {}
        names = [r[0] for r in db.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'published' AND c.relkind = 'v' ORDER BY 1").fetchall()]
        out = {}
        for name in names:
            history = HISTORY.get(name.partition("__")[2], ())
            row = (sql.SQL("to_jsonb(t) - {}::text[]").format(sql.Literal(list(history))) if history
                   else sql.SQL("t"))
            out[name] = db.execute(sql.SQL(
                "SELECT count(*), coalesce(md5(string_agg(md5(r::text), '' ORDER BY md5(r::text))), '') "
                "FROM (SELECT {} AS r FROM {} t{}) x").format(
                    row, sql.Identifier("published", name), FOUND_NOW if history else sql.SQL(""))).fetchone()
        return out
