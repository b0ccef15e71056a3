"""`huiliu sql --unit SCHEMA [-c QUERY]`: a SQL session as that unit sees the warehouse, never more.

The session logs in as the unit's own short-lived login (sessions.py), never as the pipeline's
login with `SET ROLE`, which one `RESET ROLE` would undo: whatever the analyst types, the server
answers as the unit. Interactive sessions use psql when the machine has one (HUILIU_PSQL names
another, or is empty for huiliu's own prompt); `-c QUERY` runs one statement through psycopg
and prints tab-separated rows. Every session is recorded in governance.sql_sessions (OS user,
unit, login, mode, start, end, outcome), never its statements; its reads of unit relations are
in the query audit (governance.read_audit) like every other read.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TextIO

import psycopg
from psycopg.conninfo import make_conninfo

from pipelines.access.sessions import login_role, unit_login

SESSIONS_DDL = """
CREATE TABLE IF NOT EXISTS governance.sql_sessions (
    session_id  bigserial PRIMARY KEY,
    unit        text NOT NULL,
    login       text NOT NULL,
    os_user     text NOT NULL,
    mode        text NOT NULL CHECK (mode IN ('command', 'psql', 'prompt')),
    started_at  timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz,
    outcome     text
);
COMMENT ON TABLE governance.sql_sessions IS
    'huiliu sql 会话: 单位、登录角色、操作系统用户、方式、起止时间、结果 (不记录语句)';
"""
CONNECT_SECONDS = 30  # psql has this long to open its session before the login is expired again


@dataclass
class Outcome:
    code: int  # 0 the statements ran; 1 refused or an error
    message: str = ""


def _psql() -> str | None:
    chosen = os.environ.get("HUILIU_PSQL")
    if chosen is not None:
        return chosen or None
    return shutil.which("psql")


def _record_start(admin: psycopg.Connection, unit: str, mode: str) -> int:
    admin.execute("CREATE SCHEMA IF NOT EXISTS governance")
    admin.execute(SESSIONS_DDL)
    return admin.execute(
        "INSERT INTO governance.sql_sessions (unit, login, os_user, mode) VALUES (%s, %s, %s, %s) "
        "RETURNING session_id", (unit, login_role(unit, admin.info.dbname), getpass.getuser(), mode)
    ).fetchone()[0]


def _record_end(admin: psycopg.Connection, session_id: int, outcome: str) -> None:
    admin.execute("UPDATE governance.sql_sessions SET ended_at = now(), outcome = %s WHERE session_id = %s",
                  (outcome[:200], session_id))


def _print_rows(cur: psycopg.Cursor, out: TextIO, err: TextIO) -> None:
    if cur.description is None:
        print(cur.statusmessage or "OK", file=out)
        return
    print("\t".join(c.name for c in cur.description), file=out)
    rows = cur.fetchall()
    for row in rows:
        print("\t".join("" if v is None else str(v) for v in row), file=out)
    print(f"({len(rows)} row{'' if len(rows) == 1 else 's'})", file=err)


def run_statements(conn: psycopg.Connection, statements: Iterable[str], out: TextIO, err: TextIO) -> int:
    """Run each statement as the unit; an error is printed and ends the batch (exit 1)."""
    for text in statements:
        try:
            with conn.cursor() as cur:
                cur.execute(text)
                _print_rows(cur, out, err)
        except psycopg.Error as exc:
            print(f"ERROR: {str(exc).strip()}", file=err)
            return 1
    return 0


def _prompt_statements(stdin: TextIO, err: TextIO, interactive: bool) -> Iterable[str]:
    """Statements typed at huiliu's own prompt: each ends with `;`; `\\q` or end of input quits."""
    buffer: list[str] = []
    while True:
        if interactive:
            print("sql> " if not buffer else "...> ", end="", file=err, flush=True)
        line = stdin.readline()
        if not line or line.strip() in ("\\q", "quit", "exit"):
            break
        buffer.append(line)
        if line.rstrip().endswith(";"):
            yield "".join(buffer)
            buffer = []
    if "".join(buffer).strip():
        yield "".join(buffer)


def _wait_connected(admin: psycopg.Connection, login: str, app: str, proc: subprocess.Popen) -> None:
    """Until psql's session is open (or psql has ended), so the login can be expired again."""
    deadline = time.monotonic() + CONNECT_SECONDS
    while proc.poll() is None and time.monotonic() < deadline:
        if admin.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND application_name = %s",
                         (login, app)).fetchone()[0]:
            return
        time.sleep(0.05)


def session(url: str, unit: str, command: str | None = None, *, stdin: TextIO = sys.stdin,
            out: TextIO = sys.stdout, err: TextIO = sys.stderr,
            spawn: Callable[..., subprocess.Popen] = subprocess.Popen) -> Outcome:
    """Run `command`, psql or the prompt as `unit` in the database at `url`; Refused for an unknown unit."""
    psql = None if command is not None else _psql()
    mode = "command" if command is not None else ("psql" if psql else "prompt")
    app = f"huiliu sql {unit} {uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as admin:
        with unit_login(url, unit, application_name=app, admin=admin) as params:
            params["options"] = f"-c search_path={unit}"  # a checked unit name: `FROM household_registration`
            session_id = _record_start(admin, unit, mode)
            if psql:
                secret = params.pop("password")
                proc = spawn([psql, make_conninfo(**params)], env={**os.environ, "PGPASSWORD": secret})
                _wait_connected(admin, params["user"], app, proc)
            else:
                conn = psycopg.connect(make_conninfo(**params), autocommit=True)
        if psql:
            code = proc.wait()
        else:
            with conn:
                if command is None:
                    print(f"connected as {unit}; end a statement with ';', \\q quits", file=err)
                statements = [command] if command is not None else _prompt_statements(
                    stdin, err, interactive=stdin.isatty())
                code = run_statements(conn, statements, out, err)
        _record_end(admin, session_id, "ok" if code == 0 else f"exit {code}")
    return Outcome(0 if code == 0 else 1)
