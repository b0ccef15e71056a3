"""No way in for those who don't belong: roles are exactly the contract's, grants end on their day,
every read is audited — on the real 100,000-person warehouse (dbt's tiers, not the stand-in).
"""

from __future__ import annotations

import os
import secrets
import time
import urllib.parse

import psycopg
import pytest
from support.db import as_role

from pipelines.gates.reconcile import reconciliation_gate
from pipelines.govern.audit import audit_unit_schemas, status, sync_read_audit
from pipelines.naming import READ_AUDIT_ROLE
from pipelines.publish import publish
from pipelines.publish.roles import RoleError
from pipelines.tiers import dbt
from pipelines.tiers.specs import DBT_TIERS_ARGS
from pipelines.topology import load_topology

VILLAGE = "village_330683001002"
GRANTED_VILLAGE = "village_330683100201"  # clear_names grant on elderly_subsidy, last day 2027-03-31
OTHER_VILLAGE = "village_330683001003"


def _republish(published):
    def build_tiers(_layout: object) -> None:
        proc = dbt.run(DBT_TIERS_ARGS, published.url)
        assert proc.returncode == 0, proc.stdout[-2000:]

    return publish(published.url, load_topology(), build_tiers=build_tiers, gates=(reconciliation_gate,))


def _publishes(c: psycopg.Connection) -> int:
    return c.execute("SELECT count(*) FROM governance.publish_log").fetchone()[0]


def _privileges(c: psycopg.Connection, role: str, relation: str) -> set[str]:
    return {p for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")
            if c.execute("SELECT has_table_privilege(%s, %s, %s)", (role, relation, p)).fetchone()[0]}


def test_stray_privileges_of_a_unit_are_revoked_at_the_next_publish(published) -> None:
    view = f"{VILLAGE}.household_registration"
    with published.connect() as c:
        c.execute(f"GRANT INSERT, UPDATE ON {view} TO {VILLAGE}")
        c.execute(f"GRANT USAGE ON SCHEMA protected TO {VILLAGE}")
        c.execute(f"GRANT SELECT ON protected.prot_household_registration TO {VILLAGE}")
        c.execute(f"GRANT SELECT ON {OTHER_VILLAGE}.household_registration TO {VILLAGE}")
        c.execute(f"GRANT EXECUTE ON FUNCTION privacy.token(text) TO {VILLAGE}")
        c.execute(f"REVOKE SELECT ON {view} FROM {READ_AUDIT_ROLE}")  # its reads would go unaudited
        assert _privileges(c, VILLAGE, view) == {"SELECT", "INSERT", "UPDATE"}
    outcome = _republish(published)
    assert f"INSERT on {view} from {VILLAGE}" in outcome.roles.repaired
    assert f"SELECT on {OTHER_VILLAGE}.household_registration from {VILLAGE}" in outcome.roles.repaired
    with published.connect() as c:
        assert _privileges(c, VILLAGE, view) == {"SELECT"}
        assert _privileges(c, READ_AUDIT_ROLE, view) == {"SELECT"}  # granted back, and only that
        assert audit_unit_schemas(c, [VILLAGE, OTHER_VILLAGE]) == 0  # nothing left to grant
        assert not c.execute("SELECT has_schema_privilege(%s, 'protected', 'USAGE')", (VILLAGE,)).fetchone()[0]
        assert _privileges(c, VILLAGE, "protected.prot_household_registration") == set()
        assert _privileges(c, VILLAGE, f"{OTHER_VILLAGE}.household_registration") == set()
        assert not c.execute("SELECT has_function_privilege(%s, 'privacy.token(text)', 'EXECUTE')",
                             (VILLAGE,)).fetchone()[0]
        public = c.execute(
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND left(n.nspname, 3) <> 'pg_' "
            "AND has_function_privilege('public', p.oid, 'EXECUTE')").fetchone()[0]
        assert public == 0


@pytest.mark.parametrize("membership", ["pg_read_all_data", OTHER_VILLAGE])
def test_a_unit_role_that_could_read_beyond_its_schema_is_refused(published, membership: str) -> None:
    with published.connect() as c:
        before = _publishes(c)
        c.execute(f"GRANT {membership} TO {VILLAGE}")
        try:
            with pytest.raises(RoleError, match=f"{VILLAGE}.*{membership}"):
                _republish(published)
            assert _publishes(c) == before  # nothing published
        finally:
            c.execute(f"REVOKE {membership} FROM {VILLAGE}")


_as = as_role


def test_a_grant_works_through_its_last_day_and_stops_the_next_without_a_run(published) -> None:
    with published.connect() as c:
        before = _publishes(c)
        try:
            c.execute("UPDATE governance.county_clock SET today = '2027-12-31'")  # dept_wjj's last day
            assert _as(c, "dept_wjj", "SELECT count(*) FROM dept_wjj.elderly_subsidy")[0][0] > 0
            c.execute("UPDATE governance.county_clock SET today = '2028-01-01'")
            assert _as(c, "dept_wjj", "SELECT count(*) FROM dept_wjj.elderly_subsidy")[0][0] == 0
            names = f"SELECT name FROM {GRANTED_VILLAGE}.elderly_subsidy"
            c.execute("UPDATE governance.county_clock SET today = '2027-03-31'")  # clear names, last day
            clear = [r[0] for r in _as(c, GRANTED_VILLAGE, names)]
            c.execute("UPDATE governance.county_clock SET today = '2027-04-01'")
            after = [r[0] for r in _as(c, GRANTED_VILLAGE, names)]
            assert clear and not any("*" in n for n in clear)
            assert len(after) == len(clear) and all("*" in n for n in after)  # the village's own policy
            assert _publishes(c) == before  # nothing ran in between
        finally:
            c.execute("UPDATE governance.county_clock SET today = NULL")
        in_force = c.execute("SELECT count(*) FROM governance.grants_in_force").fetchone()[0]
        assert c.execute("SELECT today FROM governance.county_today").fetchone()[0] is not None and in_force > 0
        assert c.execute("SELECT grantor FROM governance.grants LIMIT 1").fetchone()[0]


def test_an_analysts_read_is_audited_and_the_unit_cannot_read_the_audit(published) -> None:
    login, password = f"analyst_{os.getpid()}", secrets.token_urlsafe(16)
    with published.connect() as c:
        assert status(c).on, status(c).why  # `make test` installs pgaudit; the local server loads it
        sync_read_audit(c)  # start from what the log holds now
        c.execute(f"CREATE ROLE {login} LOGIN PASSWORD %s IN ROLE {VILLAGE}".replace("%s", f"'{password}'"))
    try:
        parts = urllib.parse.urlsplit(published.url)
        analyst = parts._replace(netloc=f"{login}:{password}@{parts.hostname}:{parts.port}").geturl()
        with psycopg.connect(analyst) as a:
            assert a.execute(f"SELECT count(*) FROM {VILLAGE}.household_registration").fetchone()[0] > 0
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                a.execute("SELECT count(*) FROM governance.read_audit")
        with published.connect() as c:
            assert c.execute("SELECT has_table_privilege(%s, %s, 'SELECT')",
                             (READ_AUDIT_ROLE, f"{VILLAGE}.household_registration")).fetchone()[0]
            for _ in range(50):  # the server's log collector writes the line a moment later
                if sync_read_audit(c):
                    break
                time.sleep(0.1)
            rows = c.execute("SELECT unit, relation, command FROM governance.read_audit WHERE login = %s",
                             (login,)).fetchall()
            assert (VILLAGE, f"{VILLAGE}.household_registration", "SELECT") in rows
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                _as(c, VILLAGE, "SELECT count(*) FROM governance.read_audit")
            text = c.execute("SELECT string_agg(t::text, ' ') FROM governance.read_audit t").fetchone()[0]
            assert "SELECT count" not in text  # no statement text is recorded
    finally:
        with published.connect() as c:
            c.execute(f"DROP ROLE {login}")
