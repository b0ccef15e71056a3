"""governance.report_exports: every form written, who wrote it and what it holds (never a value).

A form leaves the warehouse as a file a person carries away, so each one is a row here: the
operating-system user, the unit, the template (or none for a custom form), the ledger, tags
and columns, how many rows, the file. The row is written with the pipeline's connection in the
same transaction that moves the finished file into place: a form is either recorded or absent.
"""

from __future__ import annotations

import datetime as dt
import getpass
from dataclasses import dataclass

import psycopg
from psycopg import sql

from pipelines.lock import DDL_LOCK, serialized
from pipelines.naming import AUDITOR_ROLE, ident

DDL = """
CREATE TABLE IF NOT EXISTS governance.report_exports (
    export_id   bigserial   PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    os_user     text        NOT NULL,
    db_user     text        NOT NULL DEFAULT current_user,
    unit        text        NOT NULL,
    login       text        NOT NULL,
    template    text,
    ledger      text        NOT NULL,
    tags        text[]      NOT NULL,
    columns     text[]      NOT NULL,
    rows        bigint      NOT NULL,
    data_date   date,
    file_name   text        NOT NULL,
    file_format text        NOT NULL
);
COMMENT ON TABLE governance.report_exports IS
    '报表导出记录: 谁 (操作系统用户) 何时以哪个单位的身份导出了哪张表 '
    '(模板、台账、标签、列、行数、文件), 不含数据';
COMMENT ON COLUMN governance.report_exports.os_user IS '导出人 (操作系统用户)';
COMMENT ON COLUMN governance.report_exports.login IS '读取所用的单位登录角色';
COMMENT ON COLUMN governance.report_exports.template IS '模板代码, 自定义报表为空';
COMMENT ON COLUMN governance.report_exports.rows IS '导出行数';
COMMENT ON COLUMN governance.report_exports.file_name IS '输出文件 (绝对路径)';
REVOKE ALL ON governance.report_exports FROM PUBLIC;
"""

INSERT = """
INSERT INTO governance.report_exports
    (os_user, unit, login, template, ledger, tags, columns, rows, data_date, file_name, file_format)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
RETURNING export_id
"""


@dataclass(frozen=True)
class Export:
    unit: str
    login: str
    template: str | None
    ledger: str
    tags: tuple[str, ...]
    columns: tuple[str, ...]
    rows: int
    data_date: dt.date | None
    file_name: str
    file_format: str


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME: still record the attempt
        return "unknown"


def ensure_exports(conn: psycopg.Connection) -> None:
    """The table (idempotent, two first exports at once take turns), readable by `auditor`."""
    if conn.execute("SELECT to_regclass('governance.report_exports')").fetchone()[0] is not None:
        return
    with serialized(conn, DDL_LOCK):
        conn.execute("CREATE SCHEMA IF NOT EXISTS governance")
        conn.execute(DDL)
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (AUDITOR_ROLE,)).fetchone():
            conn.execute(sql.SQL("GRANT SELECT ON governance.report_exports TO {}").format(ident(AUDITOR_ROLE)))


def record(conn: psycopg.Connection, e: Export) -> int:
    """One row for the export (inside the caller's transaction); its export_id."""
    return conn.execute(INSERT, (os_user(), e.unit, e.login, e.template, e.ledger, list(e.tags),
                                 list(e.columns), e.rows, e.data_date, e.file_name, e.file_format)
                        ).fetchone()[0]
