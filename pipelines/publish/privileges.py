"""Unit roles hold exactly what the contract gives them: checked at every publish, repaired or refused.

A unit role may use its own schema and SELECT its views; nothing else — no other privilege
type on them (INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER), no privilege on any
other relation, schema or function of the warehouse. The logins granted a unit role (the
analysts') hold nothing of their own. A stray privilege is revoked (named in the publish's
metadata); a membership that lets a unit role or a login read beyond its schema —
`pg_read_all_data` and its kin, another unit's role, the audit role — cannot be repaired
safely by a pipeline and refuses the publish with the reason. PUBLIC holds no EXECUTE on
any function of the warehouse. This runs before the switch, outside its transaction, so
its cost grows with the number of stray grants, never with the number of units in the lock.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg
from psycopg import sql

from pipelines.naming import READ_AUDIT_ROLE, ident
from pipelines.publish.roles import RoleError

POWERFUL = ("pg_read_all_data", "pg_write_all_data", "pg_read_server_files", "pg_write_server_files",
            "pg_execute_server_program", "pg_monitor", "pg_read_all_settings", "pg_read_all_stats")
SYSTEM = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND left(n.nspname, 3) <> 'pg_'"

MEMBERSHIPS = """
SELECT m.rolname, r.rolname FROM pg_auth_members a
JOIN pg_roles m ON m.oid = a.member JOIN pg_roles r ON r.oid = a.roleid
WHERE m.rolname = ANY(%(units)s) OR r.rolname = ANY(%(units)s) OR r.rolname = %(audit)s
"""

LOGIN_POWERS = """
SELECT rolname FROM pg_roles WHERE rolname = ANY(%s) AND (rolsuper OR rolbypassrls)
"""

RELATION_GRANTS = f"""
SELECT n.nspname, c.relname, c.relkind, r.rolname, x.privilege_type
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) x
JOIN pg_roles r ON r.oid = x.grantee
WHERE {SYSTEM} AND r.rolname = ANY(%s)
"""

SCHEMA_GRANTS = f"""
SELECT n.nspname, r.rolname, x.privilege_type
FROM pg_namespace n, aclexplode(n.nspacl) x JOIN pg_roles r ON r.oid = x.grantee
WHERE {SYSTEM} AND r.rolname = ANY(%s)
"""

FUNCTION_GRANTS = f"""
SELECT p.oid::regprocedure::text, coalesce(r.rolname, 'PUBLIC')
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace,
     aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) x
LEFT JOIN pg_roles r ON r.oid = x.grantee
WHERE {SYSTEM} AND x.privilege_type = 'EXECUTE' AND x.grantee <> p.proowner
  AND (x.grantee = 0 OR r.rolname = ANY(%s))
"""


def check_memberships(conn: psycopg.Connection, units: Iterable[str]) -> list[str]:
    """Refuse (RoleError) a unit role or login that could read beyond its schema; returns the logins."""
    units = sorted(set(units))
    logins, problems = set(), []
    for member, role in conn.execute(MEMBERSHIPS, {"units": units, "audit": READ_AUDIT_ROLE}).fetchall():
        if role == READ_AUDIT_ROLE:
            problems.append(f"{member!r} is a member of the audit role {READ_AUDIT_ROLE!r}, which reads every "
                            "unit's views: nobody may be")
        elif member in units:
            kind = "a predefined role that reads beyond any schema" if role in POWERFUL else (
                "another unit's role" if role in units else "a role a unit role must not belong to")
            problems.append(f"unit role {member!r} is a member of {role!r} ({kind})")
        else:
            logins.add(member)  # a login granted a unit role: what else does it belong to?
    if logins:
        for member, role in conn.execute(
                "SELECT m.rolname, r.rolname FROM pg_auth_members a JOIN pg_roles m ON m.oid = a.member "
                "JOIN pg_roles r ON r.oid = a.roleid WHERE m.rolname = ANY(%s) AND r.rolname = ANY(%s)",
                (sorted(logins), list(POWERFUL))).fetchall():
            problems.append(f"login {member!r} of a unit is a member of {role!r} (reads beyond any schema)")
        for (name,) in conn.execute(LOGIN_POWERS, (sorted(logins),)).fetchall():
            problems.append(f"login {name!r} of a unit is SUPERUSER or BYPASSRLS")
    if problems:
        raise RoleError("roles read beyond their schema, publish refused: " + "; ".join(problems[:6])
                        + (" …" if len(problems) > 6 else "") + ". Revoke the membership (REVOKE role FROM "
                        "member) or rename the role, then publish again.")
    return sorted(logins)


def repair_privileges(conn: psycopg.Connection, units: Iterable[str], logins: Iterable[str] = ()) -> list[str]:
    """Revoke every privilege of a unit role or a unit's login beyond its own schema's SELECT and USAGE."""
    units, logins = sorted(set(units)), sorted(set(logins))
    holders = units + logins
    stmts: list[tuple[str, sql.Composable]] = []
    for schema, rel, kind, role, priv in conn.execute(RELATION_GRANTS, (holders,)).fetchall():
        if role == schema and priv == "SELECT":
            continue  # a unit reads its own views
        what = sql.SQL("SEQUENCE" if kind == "S" else "TABLE")
        stmts.append((f"{priv} on {schema}.{rel} from {role}", sql.SQL("REVOKE {} ON {} {} FROM {}").format(
            sql.SQL(priv), what, sql.Identifier(schema, rel), sql.Identifier(role))))
    for schema, role, priv in conn.execute(SCHEMA_GRANTS, (holders,)).fetchall():
        if role == schema and priv == "USAGE":
            continue
        revoke = sql.SQL("REVOKE {} ON SCHEMA {} FROM {}").format(sql.SQL(priv), sql.Identifier(schema),
                                                                  sql.Identifier(role))
        stmts.append((f"{priv} on schema {schema} from {role}", revoke))
    for function, role in conn.execute(FUNCTION_GRANTS, (holders,)).fetchall():
        grantee = sql.SQL("PUBLIC") if role == "PUBLIC" else sql.Identifier(role)
        revoke = sql.SQL("REVOKE EXECUTE ON FUNCTION {} FROM {}").format(sql.SQL(function), grantee)
        stmts.append((f"EXECUTE on {function} from {role}", revoke))
    for i in range(0, len(stmts), 500):
        with conn.transaction():
            for _, stmt in stmts[i:i + 500]:
                conn.execute(stmt)
    return [what for what, _ in stmts]


def enforce(conn: psycopg.Connection, units: Iterable[str]) -> list[str]:
    """Memberships checked (refused), then privileges repaired; returns what was revoked."""
    units = [ident(u) and u for u in units]  # validated names
    logins = check_memberships(conn, units)
    return repair_privileges(conn, units, logins)
