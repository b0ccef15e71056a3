"""A connection that is one unit and nothing more (for `huiliu report` and `huiliu sql --unit`).

`SET ROLE unit` on the pipeline's login would not do: one `RESET ROLE` (or `SET ROLE` to
anything the pipeline may become) undoes it. Instead the session logs in as its own role,
`huiliu_as_<unit>_<database hash>`: LOGIN, INHERIT (it reads what the unit reads), no other
attribute, a member of that one unit role and of no other, with no member, privilege, object
or setting of its own (whatever someone granted it since is revoked at every session). Its
password is fresh for every session — a SCRAM verifier computed here, so the secret never
travels, never logged — valid for a minute, and expired again as soon as the session is open.

Roles are cluster-wide while advisory locks are per database, so the login's name carries a
hash of the database: two databases of one server never change each other's password. Within
one database an advisory lock lets sessions for the same unit take turns on it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pipelines.access.errors import Refused
from pipelines.lock import lock_key
from pipelines.naming import NamingError, checked, ident

LOGIN_PREFIX = "huiliu_as_"
ATTRIBUTES = ("LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS "
              "CONNECTION LIMIT -1")

UNIT = """
SELECT u.schema_name, r.rolname IS NOT NULL, coalesce(r.rolsuper OR r.rolbypassrls OR r.rolcreaterole, false),
       to_regnamespace(u.schema_name) IS NOT NULL
FROM governance.units u LEFT JOIN pg_roles r ON r.rolname = u.schema_name
WHERE u.schema_name = %s
"""
# Memberships the login must not have, and roles that must not be members of it (the pipeline's own
# login may be: PostgreSQL 16 makes a role's creator its admin).
OTHER_MEMBERSHIPS = """
SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles l ON l.oid = m.member
WHERE l.rolname = %(login)s AND r.rolname <> %(unit)s
"""
# Privileges granted to the login itself, or objects it owns (here or cluster-wide): a unit's login has none.
OWN_PRIVILEGES = """
SELECT count(*) FROM pg_shdepend d JOIN pg_roles l ON l.oid = d.refobjid
WHERE d.refclassid = 'pg_authid'::regclass AND l.rolname = %(login)s
  AND d.dbid IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
"""
MEMBERS_OF_LOGIN = """
SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member JOIN pg_roles l ON l.oid = m.roleid
WHERE l.rolname = %(login)s AND r.rolname <> current_user
"""


def login_role(schema: str, database: str) -> str:
    """The login a session of `schema` uses in `database` (validated, at most 63 characters)."""
    suffix = hashlib.sha256(database.encode()).hexdigest()[:8]
    return checked(f"{LOGIN_PREFIX}{checked(schema, 'unit')}_{suffix}", "unit login role")


def check_unit(conn: psycopg.Connection, schema: str) -> None:
    """Refuse a name that is not a unit of governance.units with its own plain role and schema."""
    try:
        checked(schema, "unit")
    except NamingError as exc:
        raise Refused(f"unknown unit: {exc}") from exc
    if conn.execute("SELECT to_regclass('governance.units')").fetchone()[0] is None:
        raise Refused("this warehouse has no governance.units: nothing has been published yet")
    row = conn.execute(UNIT, (schema,)).fetchone()
    if row is None:
        raise Refused(f"unknown unit {schema!r}: not in governance.units")
    _, has_role, powerful, has_schema = row
    if not has_role:
        raise Refused(f"unit {schema!r} has no role yet (nothing published for it)")
    if powerful:
        raise Refused(f"role {schema!r} has SUPERUSER, BYPASSRLS or CREATEROLE: it is not a plain unit role")
    if not has_schema:
        raise Refused(f"unit {schema!r} has no schema in this database (nothing published for it)")


def _prepare_login(conn: psycopg.Connection, login: str, unit: str, verifier: str) -> None:
    """Create or refresh the login: its attributes, its one membership, no privilege or setting of its
    own, a password valid for a minute."""
    try:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(ident(login)))
    except (errors.DuplicateObject, errors.UniqueViolation):
        pass
    names = {"login": login, "unit": unit}
    for (other,) in conn.execute(OTHER_MEMBERSHIPS, names).fetchall():
        conn.execute(sql.SQL("REVOKE {} FROM {}").format(ident(checked(other, "role")), ident(login)))
    for (member,) in conn.execute(MEMBERS_OF_LOGIN, names).fetchall():
        conn.execute(sql.SQL("REVOKE {} FROM {}").format(ident(login), ident(checked(member, "role"))))
    if conn.execute(OWN_PRIVILEGES, names).fetchone()[0]:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(ident(login)))
    conn.execute(sql.SQL("ALTER ROLE {} RESET ALL").format(ident(login)))  # no `SET role` of its own
    conn.execute(sql.SQL("GRANT {} TO {}").format(ident(unit), ident(login)))
    until = conn.execute("SELECT (now() + interval '1 minute')::text").fetchone()[0]
    conn.execute(sql.SQL("ALTER ROLE {} " + ATTRIBUTES + " PASSWORD {} VALID UNTIL {}").format(
        ident(login), sql.Literal(verifier), sql.Literal(until)))


def expire_login(conn: psycopg.Connection, login: str) -> None:
    """No new session can log in as it (sessions already open keep running)."""
    conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN PASSWORD NULL VALID UNTIL 'now'").format(ident(login)))


@contextmanager
def unit_login(url: str, schema: str, *, application_name: str, admin: psycopg.Connection
               ) -> Iterator[dict[str, str]]:
    """The unit's login, ready for the connections opened inside the block: their conninfo parameters
    (a fresh password included). On leaving the block the login is expired again; sessions opened
    meanwhile keep running. Raises Refused for an unknown unit."""
    if not admin.autocommit:
        raise ValueError("a unit login needs an autocommit admin connection (the new password must be "
                         "committed before the login)")
    check_unit(admin, schema)
    database = admin.info.dbname
    login = login_role(schema, database)
    secret = secrets.token_urlsafe(32)
    verifier = admin.pgconn.encrypt_password(secret.encode(), login.encode(), b"scram-sha-256").decode()
    params = conninfo_to_dict(url) | {"user": login, "password": secret, "dbname": database,
                                      "application_name": application_name[:60]}
    key = lock_key(f"huiliu.unit_login.{login}")
    admin.execute("SELECT pg_advisory_lock(%s)", (key,))
    try:
        _prepare_login(admin, login, schema, verifier)
        try:
            yield {k: str(v) for k, v in params.items() if v is not None}
        finally:
            expire_login(admin, login)
    finally:
        admin.execute("SELECT pg_advisory_unlock(%s)", (key,))


def unit_connection(url: str, schema: str, *, application_name: str = "huiliu unit session",
                    admin: psycopg.Connection | None = None) -> psycopg.Connection:
    """A new autocommit connection to url's server and database as a login that is `schema` only.

    `url` is the pipeline's (it must be allowed to create roles and grant the unit role); `admin`,
    an open autocommit connection of it, saves a login. Raises Refused for an unknown unit. The
    caller closes the returned connection; nothing else needs undoing.
    """
    if admin is None:
        with psycopg.connect(url, autocommit=True) as own:
            return unit_connection(url, schema, application_name=application_name, admin=own)
    with unit_login(url, schema, application_name=application_name, admin=admin) as params:
        return psycopg.connect(make_conninfo(**params), autocommit=True)


def drop_unit_login(conn: psycopg.Connection, schema: str) -> None:
    """Drop the unit's login of conn's database (a unit leaving the county; the tests' cleanup)."""
    login = login_role(schema, conn.info.dbname)
    conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(ident(login)))
