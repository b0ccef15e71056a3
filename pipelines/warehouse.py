"""Connections to the warehouse: which database, how dbt reaches it, creating and dropping one.

HUILIU_DATABASE_URL names the warehouse; without it, the project's own local PostgreSQL
(pipelines/localdb.py) is started on demand. The URL carries the password: it is passed
to libraries and child processes, never printed.
"""

from __future__ import annotations

import os
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import psycopg

from pipelines import localdb
from pipelines.naming import checked


class WarehouseError(RuntimeError):
    """The warehouse cannot be reached, started or named."""


def database_url(database: str | None = None) -> str:
    """The warehouse URL: HUILIU_DATABASE_URL, else the local server (started if needed)."""
    external = os.environ.get("HUILIU_DATABASE_URL")
    if external:
        return external if database is None else with_database(external, database)
    try:
        server = localdb.ensure_local_server()
    except localdb.LocalServerError as exc:
        raise WarehouseError(str(exc)) from exc
    return server.url(database or localdb.DATABASE)


def with_database(url: str, database: str) -> str:
    """The same server and credentials, another database."""
    return urlunsplit(urlsplit(url)._replace(path="/" + database))


def connect(url: str | None = None, **kwargs: object) -> psycopg.Connection:
    return psycopg.connect(url or database_url(), **kwargs)  # type: ignore[arg-type]


def url_of(conn: psycopg.Connection) -> str:
    """A URL for conn's server, database and credentials (for a child process such as dbt)."""
    info = conn.info
    host = info.host or "127.0.0.1"
    auth = quote(info.user or "", safe="") + (":" + quote(info.password, safe="") if info.password else "")
    return f"postgresql://{auth}@{host}:{info.port or 5432}/{quote(info.dbname, safe='')}"


def dbt_env(url: str) -> dict[str, str]:
    """The connection as the HUILIU_PG_* variables dbt's profile (and dagster.yaml) read."""
    parts = urlsplit(url)
    return {
        "HUILIU_PG_HOST": parts.hostname or "127.0.0.1",
        "HUILIU_PG_PORT": str(parts.port or 5432),
        "HUILIU_PG_USER": unquote(parts.username or ""),
        "HUILIU_PG_PASSWORD": unquote(parts.password or ""),
        "HUILIU_PG_DBNAME": unquote(parts.path.lstrip("/")) or localdb.DATABASE,
    }


def ensure_database(admin_url: str, name: str) -> None:
    """CREATE DATABASE name unless it exists (connecting with admin_url)."""
    checked(name, "database")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{checked(name, "database")}" WITH (FORCE)')
