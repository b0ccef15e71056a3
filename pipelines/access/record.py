"""governance.access_log: every step of `huiliu access` — who, when, what — for the auditors.

One row per step (a login added or removed, a grant requested, approved or revoked), written in
the transaction of the step itself, so the log and the roles never disagree. It names units,
datasets, logins and approval references; never a password.
"""

from __future__ import annotations

import getpass

import psycopg
from psycopg.types.json import Jsonb

ACCESS_DDL = """
CREATE SCHEMA IF NOT EXISTS governance;
CREATE TABLE IF NOT EXISTS governance.access_log (
    event_id       bigserial PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    os_user        text NOT NULL,
    action         text NOT NULL CHECK (action IN ('login_add', 'login_remove', 'grant_request',
                                                   'grant_approve', 'grant_revoke')),
    unit           text,
    login          text,
    application_id bigint,
    by_name        text,
    detail         jsonb NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE governance.access_log IS
    '权限操作记录: 登录角色的增删, 权限申请的申请、批准、撤销 (谁、何时、何事)';
CREATE TABLE IF NOT EXISTS governance.analyst_logins (
    login       text PRIMARY KEY,
    unit        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL,
    removed_at  timestamptz,
    removed_by  text
);
COMMENT ON TABLE governance.analyst_logins IS '分析人员登录角色: 每个只属于一个单位角色 (huiliu access login)';
"""


def ensure_access(conn: psycopg.Connection) -> None:
    conn.execute(ACCESS_DDL)


def record(conn: psycopg.Connection, action: str, *, unit: str | None = None, login: str | None = None,
           application_id: int | None = None, by: str | None = None, **detail: object) -> int:
    """One step in governance.access_log (in the caller's transaction); its event id."""
    return conn.execute(
        "INSERT INTO governance.access_log (os_user, action, unit, login, application_id, by_name, detail) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING event_id",
        (getpass.getuser(), action, unit, login, application_id, by, Jsonb(detail))).fetchone()[0]
