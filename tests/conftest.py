"""Tests run against the project's real PostgreSQL, in a database of their own."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest

from pipelines.warehouse import (
    _with_database,
    drop_database,
    ensure_database,
    ensure_local_server,
)


@pytest.fixture(scope="session")
def warehouse_url() -> Iterator[str]:
    """A throw-away database on the local (or configured) server; every command uses it."""
    base = os.environ.get("HUILIU_DATABASE_URL") or ensure_local_server().url("postgres")
    admin = _with_database(base, "postgres")
    name = f"huiliu_test_{os.getpid()}"
    drop_database(admin, name)
    ensure_database(admin, name)
    url = _with_database(base, name)
    previous = os.environ.get("HUILIU_DATABASE_URL")
    os.environ["HUILIU_DATABASE_URL"] = url
    os.environ.setdefault("HUILIU_TOKEN_KEY", "huiliu-test-token-key-not-a-secret")
    yield url
    if previous is None:
        os.environ.pop("HUILIU_DATABASE_URL", None)
    else:
        os.environ["HUILIU_DATABASE_URL"] = previous
    drop_database(admin, name)


def reset_warehouse(conn: psycopg.Connection) -> None:
    """Drop every schema huiliu made in this database (roles are cluster-wide and stay)."""
    schemas = [r[0] for r in conn.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
        "AND nspname NOT IN ('information_schema', 'public')")]
    for name in schemas:
        conn.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture
def conn(warehouse_url: str) -> Iterator[psycopg.Connection]:
    """A connection to an emptied warehouse (raw and governance recreated)."""
    from pipelines.ingest.schema import ensure_schemas, sync_divisions
    from pipelines.topology import load_topology

    with psycopg.connect(warehouse_url, autocommit=True) as c:
        reset_warehouse(c)
        ensure_schemas(c)
        sync_divisions(c, load_topology())
        yield c
