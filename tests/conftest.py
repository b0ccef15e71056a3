"""Tests run against the project's real PostgreSQL, in a database of their own.

`published` is one county-size delivery (tests/support/county.py) run through the real pipeline
once per session, in a database of its own: the attack, role, grant, audit, access and docs tests
all read that same published warehouse.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from support.county import Published, publish_county
from support.db import reset_warehouse

from pipelines.localdb import ensure_local_server
from pipelines.warehouse import drop_database, ensure_database, with_database


@pytest.fixture(scope="session")
def warehouse_url() -> Iterator[str]:
    """A throw-away database on the local (or configured) server; every command uses it."""
    base = os.environ.get("HUILIU_DATABASE_URL") or ensure_local_server().url("postgres")
    admin = with_database(base, "postgres")
    name = f"huiliu_test_{os.getpid()}"
    drop_database(admin, name)
    ensure_database(admin, name)
    url = with_database(base, name)
    previous = os.environ.get("HUILIU_DATABASE_URL")
    os.environ["HUILIU_DATABASE_URL"] = url
    os.environ.setdefault("HUILIU_TOKEN_KEY", "huiliu-test-token-key-not-a-secret")
    yield url
    if previous is None:
        os.environ.pop("HUILIU_DATABASE_URL", None)
    else:
        os.environ["HUILIU_DATABASE_URL"] = previous
    drop_database(admin, name)


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


@pytest.fixture(scope="session")
def published(warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    admin = with_database(warehouse_url, "postgres")
    name = f"{warehouse_url.rsplit('/', 1)[1]}_security"
    drop_database(admin, name)
    ensure_database(admin, name)
    yield publish_county(with_database(warehouse_url, name), tmp_path_factory.mktemp("security_landing"))
    drop_database(admin, name)
