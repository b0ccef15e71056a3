"""Ways in, and only as far as they lead: `huiliu sql` as a unit, analysts' logins, permission
applications — each through the command line, on the published 100,000-person warehouse.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import subprocess
import time
import urllib.parse

import psycopg
import pytest
from support.db import as_role
from support.runs import HUILIU, huiliu_env

from pipelines.govern.audit import sync_read_audit

VILLAGE = "village_330683001002"
OTHER_VILLAGE = "village_330683001003"
COUNT = "SELECT count(*) FROM household_registration"  # the session's search_path is its unit
DAY = dt.date(2027, 2, 1)  # the county clock during the grant test (grants_in_force reads it)


def huiliu(published, *args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HUILIU, *args], input=stdin, capture_output=True, text=True, timeout=300,
                          env=huiliu_env(published.url, **env))


_as = as_role


def _readable(c: psycopg.Connection, relation: str) -> bool:
    return c.execute("SELECT to_regclass(%s) IS NOT NULL", (relation,)).fetchone()[0]


def test_huiliu_sql_answers_as_the_unit_and_refuses_the_rest(published) -> None:
    with published.connect() as c:
        want = _as(c, VILLAGE, f"SELECT count(*) FROM {VILLAGE}.household_registration")[0][0]
        before = _readable(c, "governance.sql_sessions") and c.execute(
            "SELECT coalesce(max(session_id), 0) FROM governance.sql_sessions").fetchone()[0]
        sync_read_audit(c)
    assert want > 0
    one = huiliu(published, "sql", "--unit", VILLAGE, "-c", COUNT)
    assert one.returncode == 0, one.stderr
    assert one.stdout.splitlines() == ["count", str(want)]
    for escape in (f"RESET ROLE; SELECT count(*) FROM {OTHER_VILLAGE}.household_registration",
                   "SET ROLE city; SELECT 1", "SELECT count(*) FROM city.household_registration"):
        refused = huiliu(published, "sql", "--unit", VILLAGE, "-c", escape)
        assert refused.returncode == 1 and "permission denied" in refused.stderr, (escape, refused.stderr)
    unknown = huiliu(published, "sql", "--unit", "village_999999999999", "-c", "SELECT 1")
    assert unknown.returncode == 1 and "unknown unit" in unknown.stderr
    piped = huiliu(published, "sql", "--unit", VILLAGE, stdin=f"{COUNT};\n")  # psql
    prompt = huiliu(published, "sql", "--unit", VILLAGE, stdin=f"{COUNT};\n", HUILIU_PSQL="")
    assert piped.returncode == 0 and f" {want}\n" in piped.stdout, piped.stdout + piped.stderr
    assert prompt.returncode == 0 and prompt.stdout.splitlines() == ["count", str(want)], prompt.stderr
    with published.connect() as c:
        sessions = c.execute("SELECT unit, os_user, mode, outcome, ended_at IS NOT NULL "
                             "FROM governance.sql_sessions WHERE session_id > %s ORDER BY session_id",
                             (int(before),)).fetchall()
        assert {s[2] for s in sessions} == {"command", "psql", "prompt"}
        assert all(s[1] == getpass.getuser() and s[4] for s in sessions)
        assert [s[3] for s in sessions if s[0] == VILLAGE and s[2] == "command"] == ["ok", "exit 1", "exit 1",
                                                                                     "exit 1"]
        for _ in range(50):  # the server's log collector writes the audit line a moment later
            if sync_read_audit(c):
                break
            time.sleep(0.1)
        audited = c.execute("SELECT DISTINCT unit FROM governance.read_audit WHERE login LIKE 'huiliu_as_%%' "
                            "AND relation = %s", (f"{VILLAGE}.household_registration",)).fetchall()
        assert audited == [(VILLAGE,)]


def test_an_analyst_login_reads_its_unit_only_and_stops_when_removed(published) -> None:
    login = f"analyst_{os.getpid()}"
    added = huiliu(published, "access", "login", "add", login, "--unit", VILLAGE)
    assert added.returncode == 0, added.stderr
    password = added.stdout.rsplit(": ", 1)[1].strip()
    parts = urllib.parse.urlsplit(published.url)
    netloc = f"{login}:{urllib.parse.quote(password)}@{parts.hostname}:{parts.port}"
    url = parts._replace(netloc=netloc).geturl()
    try:
        with published.connect() as c:
            want = _as(c, VILLAGE, f"SELECT count(*) FROM {VILLAGE}.household_registration")[0][0]
            text = c.execute("SELECT string_agg(t::text, ' ') FROM governance.access_log t").fetchone()[0]
            assert password not in text
        analyst = psycopg.connect(url, autocommit=True)
        assert analyst.execute(COUNT).fetchone()[0] == want > 0
        for escape in (f"SELECT count(*) FROM {OTHER_VILLAGE}.household_registration", "SET ROLE city",
                       "SELECT count(*) FROM governance.access_log",
                       "SELECT count(*) FROM protected.prot_person_ledger"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                analyst.execute(escape)
        for taken in ("dept_gaj", "huiliu", "city", login):  # a unit role, the pipeline's, an existing login
            again = huiliu(published, "access", "login", "add", taken, "--unit", VILLAGE)
            assert again.returncode == 1 and "refused" in again.stderr, again.stderr
        listed = huiliu(published, "access", "login", "list")
        assert f"| {login} | {VILLAGE} |" in listed.stdout
        removed = huiliu(published, "access", "login", "remove", login)
        assert removed.returncode == 0, removed.stderr
        with pytest.raises(psycopg.OperationalError):  # the open session ended with the login
            analyst.execute(COUNT)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url)
        assert huiliu(published, "access", "login", "remove", "dept_gaj").returncode == 1
    finally:
        with published.connect() as c:
            c.execute(f"DROP ROLE IF EXISTS {login}")
    with published.connect() as c:
        steps = c.execute("SELECT action, unit, os_user FROM governance.access_log WHERE login = %s "
                          "ORDER BY event_id", (login,)).fetchall()
    assert steps == [("login_add", VILLAGE, getpass.getuser()), ("login_remove", VILLAGE, getpass.getuser())]


def _grant(published, *args: str) -> subprocess.CompletedProcess[str]:
    return huiliu(published, "access", "grant", *args)


def _app_id(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout.split("#", 1)[1].split(":", 1)[0]


def test_a_grant_requested_approved_expired_and_revoked_applies_at_once(published) -> None:
    # no grant of it to dept_gaj in partitions.yaml; dept_wjj's grant publishes the relation it reads
    dept, dataset = "dept_gaj", "elderly_subsidy"
    relation = f"{dept}.{dataset}"
    with published.connect() as c:
        publishes = c.execute("SELECT count(*) FROM governance.publish_log").fetchone()[0]
        city = c.execute(f"SELECT count(*) FROM city.{dataset}").fetchone()[0]
        assert not _readable(c, relation)
    refusals = [("request", "--unit", "dept_mzj", "--dataset", dataset, "--level", "granted", "--reason", "x"),
                ("request", "--unit", "dept_nope", "--dataset", dataset, "--level", "granted", "--reason", "x"),
                ("request", "--unit", dept, "--dataset", "nope", "--level", "granted", "--reason", "x"),
                ("approve", "999999", "--by", "x", "--approval", "x", "--expires", "2030-01-01")]
    for args in refusals:
        refused = _grant(published, *args)
        assert refused.returncode == 1 and "refused" in refused.stderr, (args, refused.stderr)
    with published.connect() as c:
        c.execute("UPDATE governance.county_clock SET today = %s", (DAY,))
    app = _app_id(_grant(published, "request", "--unit", dept, "--dataset", dataset, "--level", "granted",
                         "--reason", "户籍核对高龄补贴对象"))
    village_app = _app_id(_grant(published, "request", "--unit", OTHER_VILLAGE, "--dataset", dataset,
                                 "--level", "clear_names", "--reason", "补贴发放核对"))
    last_day = DAY + dt.timedelta(days=30)
    try:
        with published.connect() as c:
            assert not _readable(c, relation)  # requested is not granted
            masked = [r[0] for r in _as(c, OTHER_VILLAGE, f"SELECT name FROM {OTHER_VILLAGE}.{dataset}")]
        expired = _grant(published, "approve", app, "--by", "王主任", "--approval", "SZ-SJ-2026-0901",
                         "--expires", str(DAY - dt.timedelta(days=1)))
        assert expired.returncode == 1 and "before today" in expired.stderr
        for a in (app, village_app):
            done = _grant(published, "approve", a, "--by", "王主任", "--approval", "SZ-SJ-2026-0901",
                          "--expires", last_day.isoformat())
            assert done.returncode == 0 and f"views changed now: {dataset}" in done.stdout, done.stderr
        assert _grant(published, "approve", app, "--by", "x", "--approval", "x", "--expires",
                      last_day.isoformat()).returncode == 1  # approved already
        with published.connect() as c:
            names = [r[0] for r in _as(c, dept, f"SELECT name FROM {relation}")]
            assert len(names) == city and all("*" in n for n in names)  # the granted policy, at once
            clear = [r[0] for r in _as(c, OTHER_VILLAGE, f"SELECT name FROM {OTHER_VILLAGE}.{dataset}")]
            assert masked and len(clear) == len(masked) and not any("*" in n for n in clear)
            c.execute("UPDATE governance.county_clock SET today = %s", (last_day,))
            assert _as(c, dept, f"SELECT count(*) FROM {relation}")[0][0] == city  # through its last day
            c.execute("UPDATE governance.county_clock SET today = %s", (last_day + dt.timedelta(days=1),))
            assert _as(c, dept, f"SELECT count(*) FROM {relation}")[0][0] == 0  # gone the next, no run
            after = [r[0] for r in _as(c, OTHER_VILLAGE, f"SELECT name FROM {OTHER_VILLAGE}.{dataset}")]
            assert sorted(after) == sorted(masked)  # the village's own policy again
            c.execute("UPDATE governance.county_clock SET today = %s", (DAY,))
        listed = _grant(published, "list", "--unit", dept).stdout
        row = f"| #{app} | {dept} | {dataset} | granted | approved | SZ-SJ-2026-0901 | {last_day} | yes |"
        assert row in listed
        assert "| partitions.yaml | dept_wjj |" in _grant(published, "list").stdout
    finally:
        for a in (app, village_app):
            _grant(published, "revoke", a, "--by", "王主任")
        with published.connect() as c:
            c.execute("UPDATE governance.county_clock SET today = NULL")
    with published.connect() as c:
        assert not _readable(c, relation)  # revoked: the view is gone at once
        back = [r[0] for r in _as(c, OTHER_VILLAGE, f"SELECT name FROM {OTHER_VILLAGE}.{dataset}")]
        assert sorted(back) == sorted(masked)
        assert c.execute("SELECT count(*) FROM governance.grants WHERE application_id IN (%s, %s)",
                         (int(app), int(village_app))).fetchone()[0] == 0
        steps = c.execute("SELECT action, by_name, os_user FROM governance.access_log "
                          "WHERE application_id = %s ORDER BY event_id", (int(app),)).fetchall()
        assert c.execute("SELECT count(*) FROM governance.publish_log").fetchone()[0] == publishes
    assert [s[0] for s in steps] == ["grant_request", "grant_approve", "grant_revoke"]
    assert [s[1] for s in steps] == [None, "王主任", "王主任"] and {s[2] for s in steps} == {getpass.getuser()}
