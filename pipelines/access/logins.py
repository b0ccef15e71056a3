"""Analysts' logins (`huiliu access login add|remove|list`): one LOGIN role per person, one unit each.

A login is a member of exactly one unit role and holds nothing of its own — the same shape the
publish's privilege check (publish/privileges.py) expects of every member of a unit role — so it
reads what the unit reads and no more. Its password comes from HUILIU_LOGIN_PASSWORD or is
generated and shown once; only its SCRAM verifier, computed here, reaches the server (no server
log or audit line can hold the password). Only logins this module made can be removed: a unit
role, the pipeline's own login or anyone else's role is refused by name.
"""

from __future__ import annotations

import getpass
import os
import secrets
from dataclasses import dataclass

import psycopg
from psycopg import errors, sql

from pipelines.access.errors import Refused
from pipelines.access.record import ensure_access, record
from pipelines.access.sessions import LOGIN_PREFIX, check_unit
from pipelines.naming import NamingError, checked, ident

PASSWORD_VARIABLE = "HUILIU_LOGIN_PASSWORD"
# Names that belong to huiliu's own roles (units, the audit, the sessions as a unit) or PostgreSQL's.
RESERVED_PREFIXES = ("city", "dept_", "town_", "village_", "huiliu", LOGIN_PREFIX, "pg_", "auditor")
ATTRIBUTES = "LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"


@dataclass(frozen=True)
class Added:
    login: str
    unit: str
    password: str | None  # generated here (shown once); None when it came from the environment


def _login_name(name: str) -> str:
    try:
        checked(name, "login")
    except NamingError as exc:
        raise Refused(str(exc)) from exc
    if name.startswith(RESERVED_PREFIXES):
        raise Refused(f"login {name!r}: names starting with {', '.join(RESERVED_PREFIXES)} are huiliu's "
                      "or PostgreSQL's own roles")
    return name


def add_login(conn: psycopg.Connection, name: str, unit: str) -> Added:
    """Create `name` as a LOGIN member of `unit`'s role only, recorded; Refused if the role exists."""
    login = _login_name(name)
    check_unit(conn, unit)
    ensure_access(conn)
    given = os.environ.get(PASSWORD_VARIABLE)
    password = given or secrets.token_urlsafe(18)
    verifier = conn.pgconn.encrypt_password(password.encode(), login.encode(), b"scram-sha-256").decode()
    try:
        with conn.transaction():
            conn.execute(sql.SQL("CREATE ROLE {} " + ATTRIBUTES + " PASSWORD {} IN ROLE {}").format(
                ident(login), sql.Literal(verifier), ident(unit)))
            conn.execute(sql.SQL("ALTER ROLE {} SET search_path = {}").format(ident(login), ident(unit)))
            conn.execute("INSERT INTO governance.analyst_logins (login, unit, created_by) VALUES (%s, %s, %s) "
                         "ON CONFLICT (login) DO UPDATE SET unit = excluded.unit, created_at = now(), "
                         "created_by = excluded.created_by, removed_at = NULL, removed_by = NULL",
                         (login, unit, getpass.getuser()))
            record(conn, "login_add", unit=unit, login=login,
                   password="from " + PASSWORD_VARIABLE if given else "generated, shown once")
    except (errors.DuplicateObject, errors.UniqueViolation):
        raise Refused(f"a role named {login!r} already exists on this server") from None
    return Added(login, unit, None if given else password)


def remove_login(conn: psycopg.Connection, name: str) -> str:
    """Drop an analyst's login made by add_login (its open sessions end at once); its unit."""
    login = _login_name(name)
    ensure_access(conn)
    row = conn.execute("SELECT unit FROM governance.analyst_logins WHERE login = %s AND removed_at IS NULL",
                       (login,)).fetchone()
    if row is None:
        raise Refused(f"{login!r} is not an analyst login of this warehouse (huiliu access login list)")
    with conn.transaction():
        conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(ident(login)))
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (login,))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(ident(login)))
        conn.execute("UPDATE governance.analyst_logins SET removed_at = now(), removed_by = %s "
                     "WHERE login = %s", (getpass.getuser(), login))
        record(conn, "login_remove", unit=row[0], login=login)
    return row[0]


def list_logins(conn: psycopg.Connection) -> list[tuple]:
    """(login, unit, created_at, created_by) of the logins in use."""
    ensure_access(conn)
    return conn.execute("SELECT login, unit, created_at, created_by FROM governance.analyst_logins "
                        "WHERE removed_at IS NULL ORDER BY login").fetchall()
