"""Who read what: every read of a unit's relations, from pgaudit's log into governance.read_audit.

pgaudit's object audit logs each statement that touches a relation its role
(`huiliu_audit`, pgaudit.role) may SELECT; huiliu grants that role SELECT on every unit view,
so every read by a unit role or an analyst's login is one line: when, which login, which
relation. No statement text and no parameter is logged (pgaudit.log_statement = off): both
can hold personal data. The server writes those lines to its csvlog; each run, and the
hourly schedule, read what is new there (through pg_read_file, so the server may be remote
as long as huiliu's role may read its logs) into `governance.read_audit`, which auditors
read and units cannot. A server without pgaudit audits nothing, and huiliu says so.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import psycopg
from psycopg import sql

from pipelines.lock import DDL_LOCK, serialized
from pipelines.naming import READ_AUDIT_ROLE, ident

DDL = """
CREATE TABLE IF NOT EXISTS governance.read_audit (
    read_at     timestamptz NOT NULL,
    login       text        NOT NULL,
    unit        text        NOT NULL,
    relation    text        NOT NULL,
    command     text        NOT NULL,
    database    text        NOT NULL,
    log_file    text        NOT NULL,
    log_line    bigint      NOT NULL,
    PRIMARY KEY (log_file, log_line, relation)
);
COMMENT ON TABLE governance.read_audit IS '查询审计: 谁 (登录名) 何时读了哪个单位的哪张表 (不记录语句与参数)';
CREATE TABLE IF NOT EXISTS governance.read_audit_cursor (
    log_file text PRIMARY KEY,
    offset_bytes bigint NOT NULL,
    lines bigint NOT NULL
);
REVOKE ALL ON governance.read_audit, governance.read_audit_cursor FROM PUBLIC;
"""

# csvlog's columns (PostgreSQL 13+): what the audit reads of a line.
LOG_TIME, USER_NAME, DATABASE, MESSAGE = 0, 1, 2, 13
CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class AuditStatus:
    on: bool
    why: str


def status(conn: psycopg.Connection) -> AuditStatus:
    """Is every read of a unit relation audited on this server?"""
    preload = conn.execute("SELECT current_setting('shared_preload_libraries', true)").fetchone()[0] or ""
    if "pgaudit" not in preload:
        return AuditStatus(False, "query audit off: pgaudit is not loaded on this server "
                                  "(install postgresql-NN-pgaudit; the local server loads it by itself)")
    role = conn.execute("SELECT current_setting('pgaudit.role', true)").fetchone()[0] or ""
    if role != READ_AUDIT_ROLE:
        return AuditStatus(False, f"query audit off: pgaudit.role is {role!r}, not {READ_AUDIT_ROLE!r}")
    return AuditStatus(True, "query audit on: every read of a unit relation goes to governance.read_audit")


def ensure_audit(conn: psycopg.Connection) -> None:
    """The audit role (NOLOGIN, no member) and the governance relations."""
    if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (READ_AUDIT_ROLE,)).fetchone():
        try:
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(ident(READ_AUDIT_ROLE)))
        except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
            pass  # another database's publish created it meanwhile
    with serialized(conn, DDL_LOCK):
        conn.execute("CREATE SCHEMA IF NOT EXISTS governance")
        conn.execute(DDL)


# The relations of the unit schemas the audit role may not SELECT yet (what GRANT … ON ALL TABLES
# IN SCHEMA covers: tables, views, materialized and foreign tables). One catalog query for every
# schema: a GRANT … ON ALL TABLES per schema scans the whole pg_class each time, which is quadratic
# in the units (a minute at 3,200 units, when nothing is missing).
MISSING_AUDIT_GRANTS = """
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'v', 'm', 'f', 'p')
  AND NOT has_table_privilege(%s, c.oid, 'SELECT')
ORDER BY 1, 2
"""
GRANT_BATCH = 500


def audit_unit_schemas(conn: psycopg.Connection, schemas: list[str]) -> int:
    """Let pgaudit see reads of every relation of the unit schemas (SELECT to the audit role).

    Grants only what is missing (new views, a view recreated by the switch); returns how many."""
    missing = conn.execute(MISSING_AUDIT_GRANTS, (list(schemas), READ_AUDIT_ROLE)).fetchall()
    role = ident(READ_AUDIT_ROLE)
    for i in range(0, len(missing), GRANT_BATCH):
        names = sql.SQL(", ").join(sql.Identifier(s, r) for s, r in missing[i:i + GRANT_BATCH])  # catalog names
        conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(names, role))
    return len(missing)


def _complete(text: str) -> int:
    """Length of the longest prefix of `text` made of whole CSV records (quotes balanced, ends in \\n)."""
    end = len(text)
    while end > 0:
        end = text.rfind("\n", 0, end)
        if end < 0:
            return 0
        if text.count('"', 0, end + 1) % 2 == 0:
            return end + 1
    return 0


def _records(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _parse(message: str) -> tuple[str, str] | None:
    """(command, object) of `AUDIT: OBJECT,statement,substatement,class,command,type,object,…`."""
    fields = next(csv.reader([message.removeprefix("AUDIT: ")]), [])
    if len(fields) < 7 or fields[3] != "READ":
        return None
    return fields[4], fields[6]


def sync_read_audit(conn: psycopg.Connection) -> int:
    """Read what the server's csvlogs hold since last time into governance.read_audit; rows added."""
    ensure_audit(conn)
    database = conn.execute("SELECT current_database()").fetchone()[0]
    try:
        files = [r[0] for r in conn.execute(
            "SELECT name FROM pg_ls_logdir() WHERE name LIKE '%.csv' ORDER BY name").fetchall()]
    except psycopg.errors.InsufficientPrivilege:
        return 0
    added = 0
    with serialized(conn, "huiliu.read_audit"):  # two runs' syncs never read the same lines twice
        for name in files:
            row = conn.execute("SELECT offset_bytes, lines FROM governance.read_audit_cursor "
                               "WHERE log_file = %s", (name,)).fetchone()
            offset, lines = row if row else (0, 0)
            path = f"log/{name}"
            size = conn.execute("SELECT size FROM pg_stat_file(%s)", (path,)).fetchone()[0]
            if size <= offset:
                continue
            raw = bytes(conn.execute("SELECT pg_read_binary_file(%s, %s, %s)",
                                     (path, offset, min(size - offset, CHUNK))).fetchone()[0])
            text = raw[:raw.rfind(b"\n") + 1].decode("utf-8", errors="replace")
            text = text[:_complete(text)]
            if not text:
                continue
            records = _records(text)
            rows = []
            for i, rec in enumerate(records):
                if len(rec) <= MESSAGE or not rec[MESSAGE].startswith("AUDIT: OBJECT,"):
                    continue
                parsed = _parse(rec[MESSAGE])
                if parsed is None or rec[DATABASE] != database:
                    continue
                command, relation = parsed
                unit = relation.split(".", 1)[0]
                rows.append((rec[LOG_TIME], rec[USER_NAME], unit, relation, command, database, name,
                             lines + i + 1))
            with conn.transaction():
                if rows:
                    with conn.cursor().copy(
                            "COPY governance.read_audit (read_at, login, unit, relation, command, database, "
                            "log_file, log_line) FROM STDIN") as copy:
                        for r in rows:
                            copy.write_row(r)
                conn.execute(
                    "INSERT INTO governance.read_audit_cursor VALUES (%s, %s, %s) "
                    "ON CONFLICT (log_file) DO UPDATE "
                    "SET offset_bytes = EXCLUDED.offset_bytes, lines = EXCLUDED.lines",
                    (name, offset + len(text.encode("utf-8")), lines + len(records)))
            added += len(rows)
    return added
