"""Roles and grants: one NOLOGIN role per unit, named as its schema, and an auditor.

Roles are cluster-wide, grants are per database: a second database on the same server
reuses the roles (CREATE ROLE only when missing, tolerating a publish in another database
creating the same role at the same moment) and grants in its own catalog. Unit roles get
USAGE on their schema and SELECT on its views and nothing else; PUBLIC loses every right
on the warehouse's schemas, so no unit reaches raw, staging, tiers, versions or another
unit through a default privilege.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg
from psycopg import errors, sql

from pipelines.naming import AUDITOR_ROLE, GOVERNANCE_SCHEMA, ident
from pipelines.publish.catalog import existing_roles


class RoleError(RuntimeError):
    """A role named like a unit exists with powers that would let it read beyond its schema."""


@dataclass
class RoleReport:
    created: list[str] = field(default_factory=list)
    existing: int = 0
    can_login: list[str] = field(default_factory=list)  # allowed, but worth telling an operator
    repaired: list[str] = field(default_factory=list)  # stray privileges revoked (publish/privileges.py)


ATTRIBUTES = """
SELECT rolname, rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = ANY(%s)
"""

PUBLIC_SCHEMAS = """
SELECT DISTINCT n.nspname FROM pg_namespace n, aclexplode(n.nspacl) x
WHERE x.grantee = 0 AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND left(n.nspname, 3) <> 'pg_'
"""


PUBLIC_RELATIONS = """
SELECT DISTINCT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
     aclexplode(c.relacl) x
WHERE x.grantee = 0 AND c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND left(n.nspname, 3) <> 'pg_'
"""


def ensure_roles(conn: psycopg.Connection, names: Iterable[str]) -> RoleReport:
    """CREATE ROLE … NOLOGIN for each missing name; refuse names held by powerful roles."""
    wanted = sorted(set(names))
    have = existing_roles(conn, wanted)
    report = RoleReport(existing=len(have))
    missing = [n for n in wanted if n not in have]
    if missing:
        try:  # one transaction for speed (3,000 roles in about a second) …
            with conn.transaction():
                for name in missing:
                    conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(ident(name)))
            report.created = missing
        except (errors.DuplicateObject, errors.UniqueViolation):
            # … one by one when another database's publish created some of them meanwhile
            for name in missing:
                try:
                    conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(ident(name)))
                    report.created.append(name)
                except (errors.DuplicateObject, errors.UniqueViolation):
                    pass
    for name, superuser, bypassrls, login in conn.execute(ATTRIBUTES, (wanted,)).fetchall():
        if superuser or bypassrls:
            raise RoleError(f"role {name!r} exists with SUPERUSER or BYPASSRLS: a unit role must not "
                            "read beyond its schema; rename or demote it before publishing")
        if login:
            report.can_login.append(name)
    return report


# The `city` role's COMMENT names the county the server's unit roles serve (roles are cluster-wide).
COUNTY_MARK = re.compile(r"^huiliu: the unit roles of county (\d{6})")
ROLE_COMMENT = "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = 'city'"


def claim_county(conn: psycopg.Connection, county_code: str, county_name: str) -> None:
    """Refuse to publish a county whose unit roles already serve another county on this server.

    Roles are cluster-wide: two counties on one server would share `city` and every `dept_*`
    role, so one county's analysts would read the other's data. The first publish on a server
    records its county in the `city` role's comment; another county must run on its own server.
    """
    ensure_roles(conn, ["city"])
    row = conn.execute(ROLE_COMMENT).fetchone()
    mark = COUNTY_MARK.match(row[0] or "") if row else None
    if mark is None:
        text = (f"huiliu: the unit roles of county {county_code} {county_name} "
                f"(first published in database {conn.info.dbname})")
        conn.execute(sql.SQL("COMMENT ON ROLE city IS {}").format(sql.Literal(text)))
    elif mark.group(1) != county_code:
        raise RoleError(f"this server's unit roles serve county {mark.group(1)} (role city: {row[0]!r}): "
                        f"county {county_code} {county_name} needs a PostgreSQL server of its own (roles are "
                        "shared by every database of a server); point HUILIU_DATABASE_URL at one, or run it "
                        "with its own HUILIU_STATE_DIR for a local server of its own")


def lock_down_public(conn: psycopg.Connection) -> list[str]:
    """REVOKE … FROM PUBLIC on every schema and relation where PUBLIC holds a right.

    `public` grants USAGE to PUBLIC by default; a table granted to PUBLIC (by hand, or by a
    tool) would be one schema grant away from every unit. Returns what was revoked.
    """
    revoked = []
    for (s,) in conn.execute(PUBLIC_SCHEMAS).fetchall():
        conn.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(ident(s)))
        revoked.append(s)
    for s, rel in conn.execute(PUBLIC_RELATIONS).fetchall():
        conn.execute(sql.SQL("REVOKE ALL ON {} FROM PUBLIC").format(sql.Identifier(s, rel)))
        revoked.append(f"{s}.{rel}")
    return revoked


def grant_auditor(conn: psycopg.Connection) -> None:
    """`auditor` reads governance, including tables dbt recreates later (default privileges)."""
    ensure_roles(conn, [AUDITOR_ROLE])
    gov, auditor = ident(GOVERNANCE_SCHEMA), ident(AUDITOR_ROLE)
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(gov))
    conn.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(gov))
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(gov, auditor))
    conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(gov, auditor))
    conn.execute(sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT ON TABLES TO {}").format(
        gov, auditor))


def grant_schema(schema: str) -> sql.Composed:
    return sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(ident(schema), ident(schema))


def grant_view(schema: str, view: str) -> sql.Composed:
    return sql.SQL("GRANT SELECT ON {} TO {}").format(ident(schema, view), ident(schema))


def revoke_view(schema: str, view: str, roles: Iterable[str]) -> sql.Composed:
    return sql.SQL("REVOKE ALL ON {} FROM {}").format(
        ident(schema, view), sql.SQL(", ").join(ident(r) for r in sorted(roles)))


def revoke_schema(schema: str, roles: Iterable[str]) -> sql.Composed:
    return sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(
        ident(schema), sql.SQL(", ").join(ident(r) for r in sorted(roles)))
