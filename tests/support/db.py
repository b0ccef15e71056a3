"""Test databases on the project's real PostgreSQL."""

from __future__ import annotations

import psycopg


def reset_warehouse(conn: psycopg.Connection) -> None:
    """Drop every schema huiliu made in this database (roles are cluster-wide and stay)."""
    schemas = [r[0] for r in conn.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
        "AND nspname NOT IN ('information_schema', 'public')")]
    for name in schemas:
        conn.execute(f'DROP SCHEMA "{name}" CASCADE')


def as_role(conn: psycopg.Connection, role: str, query: str) -> list[tuple]:
    """Rows of `query` read as `role` (SET ROLE on the pipeline's connection, reset afterwards)."""
    conn.execute(f"SET ROLE {role}")
    try:
        return conn.execute(query).fetchall()
    finally:
        conn.execute("RESET ROLE")
