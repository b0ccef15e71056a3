"""Publishing against a real PostgreSQL: the split, roles, atomic switch, lock, other counties.

Stand-in tiers.* tables (huiliu_dev/standin.py, synthetic rows with planted counts per
division) take the place of dbt's, so every count a unit view shows can be compared with what
was planted, and the publish layer is tested on its own (the end-to-end tests run it on dbt's
real tiers). The tests share one scratch database per module and republish it; each test
plants what it checks.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg import errors, sql

from huiliu_dev.standin import create_standin, planted_counts
from pipelines.contract import DATASETS
from pipelines.derived import RELATIONS
from pipelines.gates.base import GateFailed
from pipelines.lock import describe_holder
from pipelines.naming import AUDIENCES
from pipelines.publish import PublishLock, PublishLockBusy, publish
from pipelines.publish.roles import ROLE_COMMENT, RoleError
from pipelines.tables import table_markdown
from pipelines.topology import DEFAULT_PATH, Topology, load_topology
from pipelines.warehouse import drop_database, ensure_database, with_database

ROOT = Path(__file__).resolve().parent.parent
SMALL = Path(__file__).parent / "fixtures" / "small_county.yaml"
DAY = dt.date(2026, 11, 23)
HR = "household_registration"
VILLAGE = "village_330683001002"  # 新北社区, village audience for every dataset
CLEAR_VILLAGE = "village_330683100201"  # holds a clear_names grant on elderly_subsidy
SAMPLE_ROLES = ["city", "dept_gaj", "dept_wjj", "dept_fgj", "town_330683100", CLEAR_VILLAGE, VILLAGE]
SYSTEM = ("pg_catalog", "information_schema")

ALL_RELATIONS = """
SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S') AND n.nspname <> ALL(%s) AND left(n.nspname, 3) <> 'pg_'
ORDER BY 1, 2
"""


def _db_url(warehouse_url: str, suffix: str) -> tuple[str, str, str]:
    admin = with_database(warehouse_url, "postgres")
    name = f"{warehouse_url.rsplit('/', 1)[1]}_{suffix}"
    drop_database(admin, name)
    ensure_database(admin, name)
    return admin, name, with_database(warehouse_url, name)


def _other_data(conn: psycopg.Connection) -> None:
    """Relations holding data in the schemas a unit must never reach."""
    for schema in ("raw", "staging", "intermediate", "governance"):
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} AS SELECT 1 AS secret").format(
            sql.Identifier(schema, "some_rows")))
    conn.execute("CREATE TABLE IF NOT EXISTS public.some_rows AS SELECT 1 AS secret")
    conn.execute("GRANT SELECT ON public.some_rows TO PUBLIC")  # a careless grant: schema USAGE still stops it


@dataclass
class County:
    """One scratch database whose dbt stand-in rebuilds tiers.* from planted counts at every publish."""

    url: str
    topology: Topology
    planted: dict[str, dict[str, int]] = field(default_factory=dict)
    extra_columns: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    tamper: Callable[[psycopg.Connection], None] | None = None

    def plant(self, seed: int, extra_columns: dict | None = None) -> dict[str, dict[str, int]]:
        self.planted = planted_counts(self.topology, seed)
        self.extra_columns = extra_columns or {}
        self.rebuild()
        return self.planted

    def rebuild(self, _layout: object = None) -> None:
        """What the tier build (`dbt build` of the layout's sources) does for the real layer."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            create_standin(conn, self.planted, extra_columns=self.extra_columns)
            if self.tamper is not None:
                self.tamper(conn)

    def publish(self, **kwargs: object):
        kwargs.setdefault("day", DAY)
        kwargs.setdefault("build_tiers", self.rebuild)
        return publish(self.url, self.topology, **kwargs)  # type: ignore[arg-type]

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=True)

    def village_total(self, dataset: str, code: str) -> int:
        return self.planted[dataset].get(code, 0)


@pytest.fixture(scope="module")
def county(warehouse_url: str) -> Iterator[County]:
    admin, name, url = _db_url(warehouse_url, "pub")
    c = County(url, load_topology(DEFAULT_PATH))
    with c.connect() as conn:
        _other_data(conn)
    c.plant(seed=1)
    c.publish(run_id="first")
    yield c
    drop_database(admin, name)


def _count(conn: psycopg.Connection, schema: str, view: str) -> int:
    return conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, view))).fetchone()[0]


def _counts_of(conn: psycopg.Connection, units: list[str], dataset: str) -> dict[str, int]:
    """count(*) of <unit>.<dataset> for many units in one round trip."""
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {}, count(*) FROM {}").format(sql.Literal(u), sql.Identifier(u, dataset))
        for u in units)
    return dict(conn.execute(query).fetchall())


def _state(conn: psycopg.Connection) -> dict[str, object]:
    """What analysts see: published definitions, a few counts, the log."""
    return {
        "defs": conn.execute(
            "SELECT c.relname, pg_get_viewdef(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'published' AND c.relkind = 'v' ORDER BY 1").fetchall(),
        "counts": [_count(conn, s, d) for s in ("city", VILLAGE, "town_330683001") for d in DATASETS],
        "log": conn.execute("SELECT max(publish_id), count(*) FROM governance.publish_log").fetchone(),
    }


def _lock_is_free(url: str) -> bool:
    try:
        with PublishLock(url, wait=0):
            return True
    except PublishLockBusy:
        return False


# --- the split -----------------------------------------------------------------------------------


def test_every_unit_view_shows_exactly_what_was_planted(county: County):
    topo = county.topology
    villages = [v.schema for v in topo.villages]
    towns = {t.schema: t.code for t in topo.towns}
    with county.connect() as conn:
        for d in DATASETS:
            planted = county.planted[d]
            city = _count(conn, "city", d)
            assert city == sum(planted.values())
            got = _counts_of(conn, villages, d)
            assert got == {v.schema: planted.get(v.code, 0) for v in topo.villages}
            town_level = sum(n for code, n in planted.items() if code.endswith("000"))
            assert sum(got.values()) + town_level == city
            per_town = _counts_of(conn, list(towns), d)
            assert per_town == {s: sum(n for code, n in planted.items() if code[:9] == c)
                                for s, c in towns.items()}
            owner = f"dept_{DATASETS[d].owner}"
            assert _count(conn, owner, d) == city
        assert any(n == 0 for n in _counts_of(conn, villages, HR).values())  # empty villages still have views
        assert conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'dept_fgj'"
                            ).fetchone()[0] == 0
        assert conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'dept_fgj'").fetchone()


def test_unit_views_carry_policy_columns_and_comments(county: County):
    with county.connect() as conn:
        cols = conn.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                            "AND table_name = %s ORDER BY ordinal_position", (VILLAGE, HR)).fetchall()
        assert [c for (c,) in cols] == ["record_id", "subject_token", "display_name", "payload",
                                        "division_code", "updated_on"]  # the village audience: no amount
        comment = conn.execute("SELECT col_description(%s::regclass, 3)", (f"{VILLAGE}.{HR}",)).fetchone()[0]
        assert comment == "姓名 | person_name | 3 | mask"
        table = conn.execute("SELECT obj_description(%s::regclass, 'pg_class')",
                             (f"{VILLAGE}.{HR}",)).fetchone()[0]
        assert "户籍人口" in table and VILLAGE in table
        barrier = conn.execute(
            "SELECT count(*) FILTER (WHERE NOT coalesce(c.reloptions @> '{security_barrier=true}', false)), "
            "count(*) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'v' AND (n.nspname ~ '^(city|dept_|town_|village_)')").fetchone()
        assert barrier[0] == 0 and barrier[1] > 2000


def test_publish_log_records_the_publish(county: County):
    outcome = county.publish(run_id="log-test", batch_dates=[dt.date(2026, 11, 1), dt.date(2026, 11, 2)])
    with county.connect() as conn:
        run_id, version, dates, rows, gates = conn.execute(
            "SELECT run_id, version, batch_dates, rows_by_tier, gates FROM governance.publish_log "
            "ORDER BY publish_id DESC LIMIT 1").fetchone()
    assert (run_id, version) == ("log-test", outcome.version)
    assert dates == [dt.date(2026, 11, 1), dt.date(2026, 11, 2)]
    assert rows["city"][HR] == sum(county.planted[HR].values())
    assert rows["village"][VILLAGE][HR] == county.village_total(HR, "330683001002")
    assert set(rows) == {"city", "department", "town", "village"} and len(rows["village"]) == 304
    assert {g["name"] for g in gates} >= {"villages_plus_town_level_equal_city", "towns_equal_city",
                                          "departments_equal_city"}
    assert all(g["passed"] for g in gates)


def test_the_build_is_adopted_not_copied_unless_asked(county: County):
    moved = county.publish()
    with county.connect() as conn:
        left = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'tiers'")}
        options = conn.execute("SELECT reloptions FROM pg_class WHERE oid = %s::regclass",
                               (f"{moved.schema}.village__{HR}",)).fetchone()[0]
    assert sorted(moved.built.moved) == sorted(moved.layout.sources)
    assert left == {f"{a}__{d}" for a in AUDIENCES for d in RELATIONS} - set(moved.layout.sources)
    assert "autovacuum_enabled=false" in options  # immutable; autovacuum would only hold locks
    copied = county.publish(adopt="copy")
    assert copied.built.moved == []
    with county.connect() as conn:
        tiers = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'tiers'").fetchone()[0]
        assert tiers == 6 * len(RELATIONS)
        assert _count(conn, VILLAGE, HR) == county.village_total(HR, "330683001002")


def _relkind(conn: psycopg.Connection, schema: str, name: str) -> str | None:
    row = conn.execute("SELECT relkind::text FROM pg_class WHERE oid = to_regclass(%s)",
                       (sql.Identifier(schema, name).as_string(conn),)).fetchone()
    return row[0] if row else None


def test_a_twin_moves_with_its_table_and_shows_its_rows(county: County):
    """tiers.town__<HR> as dbt writes a twin (macros/tier_twins.sql: a view over the granted table, whose
    policy gives the same relation): the version adopts the table once and the twin as a view over it, one
    count serves both, town units show their planted rows, and a failed publish gives both back."""
    town, granted = f"town__{HR}", f"granted__{HR}"

    def twin(conn: psycopg.Connection) -> None:
        conn.execute(sql.SQL("DROP TABLE {} CASCADE").format(sql.Identifier("tiers", town)))
        conn.execute(sql.SQL("CREATE VIEW {} AS SELECT * FROM {}").format(
            sql.Identifier("tiers", town), sql.Identifier("tiers", granted)))
        conn.execute(sql.SQL("COMMENT ON VIEW {} IS 'town twin'").format(sql.Identifier("tiers", town)))

    county.tamper = twin
    try:
        out = county.publish()
        planted_town = sum(n for code, n in county.planted[HR].items() if code.startswith("330683001"))
        with county.connect() as conn:
            assert _relkind(conn, out.schema, town) == "v" and _relkind(conn, out.schema, granted) == "r"
            assert _relkind(conn, "tiers", town) is None and _relkind(conn, "tiers", granted) is None
            indexes = [r[0] for r in conn.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = %s "
                                                  "AND tablename = %s", (out.schema, granted))]
            comment = conn.execute("SELECT obj_description(%s::regclass, 'pg_class')",
                                   (f"{out.schema}.{town}",)).fetchone()[0]
            assert _count(conn, "town_330683001", HR) == planted_town
        assert out.built.twins == {town: granted}
        assert {town, granted} <= set(out.built.moved)
        assert any("left\"(division_code, 9)" in d for d in indexes)  # the twin's town filter, on its table
        assert comment == "town twin"
        assert out.built.counts.by_source[town] == out.built.counts.by_source[granted]
        assert out.built.counts.town_rows(town)["330683001"] == planted_town

        copied = county.publish(adopt="copy")
        with county.connect() as conn:
            assert _relkind(conn, copied.schema, town) == "v" and _relkind(conn, "tiers", town) == "v"
            assert _count(conn, "town_330683001", HR) == planted_town

        def boom(_built: object) -> None:
            raise RuntimeError("injected failure before the switch")

        with pytest.raises(RuntimeError, match="injected"):
            county.publish(before_switch=boom)
        with county.connect() as conn:
            assert _relkind(conn, "tiers", town) == "v" and _relkind(conn, "tiers", granted) == "r"
            reads = conn.execute(
                "SELECT DISTINCT d.refobjid::regclass::text FROM pg_rewrite r "
                "JOIN pg_depend d ON d.objid = r.oid AND d.refclassid = 'pg_class'::regclass "
                "WHERE r.ev_class = %s::regclass AND d.refobjid <> r.ev_class", (f"tiers.{town}",)).fetchall()
            assert reads == [(f"tiers.{granted}",)]  # given back with its table, not left reading a dropped one

        def lookalike(conn: psycopg.Connection) -> None:  # the same rows today, but no twin: a filter
            conn.execute(sql.SQL("DROP TABLE {} CASCADE").format(sql.Identifier("tiers", town)))
            conn.execute(sql.SQL("CREATE VIEW {} AS SELECT * FROM {} WHERE amount IS NOT NULL").format(
                sql.Identifier("tiers", town), sql.Identifier("tiers", granted)))

        county.tamper = lookalike
        other = county.publish()
        with county.connect() as conn:
            assert _relkind(conn, other.schema, town) == "r"  # its rows copied into a table of its own
            assert _count(conn, "town_330683001", HR) == planted_town
        assert other.built.twins == {} and town not in other.built.moved
    finally:
        county.tamper = None
        county.rebuild()


# --- roles and grants ----------------------------------------------------------------------------


def _refused(conn: psycopg.Connection, schema: str, name: str) -> bool:
    try:
        conn.execute(sql.SQL("SELECT 1 FROM {} LIMIT 1").format(sql.Identifier(schema, name)))
    except errors.InsufficientPrivilege:
        return True
    return False


def test_sample_roles_read_their_schema_and_nothing_else(county: County):
    with county.connect() as conn:
        relations = conn.execute(ALL_RELATIONS, (list(SYSTEM),)).fetchall()
        by_schema: dict[str, list[str]] = {}
        for s, n, _ in relations:
            by_schema.setdefault(s, []).append(n)
        for role in SAMPLE_ROLES:
            own = by_schema.get(role, [])
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
            try:
                for name in own:
                    conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(role, name)))
                # every relation outside the unit schemas, and one relation of every other unit
                targets = [(s, n) for s, names in by_schema.items() if s != role
                           for n in (names if not s.startswith(("city", "dept_", "town_", "village_"))
                                     else names[:1])]
                leaked = [t for t in targets if not _refused(conn, *t)]
                assert leaked == [], f"{role} can read {leaked[:5]}"
            finally:
                conn.execute("RESET ROLE")
        assert len(by_schema["tiers"]) == 6 * len(RELATIONS) and len(by_schema["published"]) > 30


def test_security_barrier_keeps_a_leaky_function_blind(county: County):
    notices: list[str] = []
    with county.connect() as conn:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        conn.execute("DROP SCHEMA IF EXISTS attack CASCADE")
        conn.execute("CREATE SCHEMA attack")
        conn.execute("CREATE FUNCTION attack.leak(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 "
                     "AS $$ BEGIN RAISE NOTICE 'saw %', $1; RETURN true; END $$")
        # The control: the same view without security_barrier, to show the attack is real.
        conn.execute(sql.SQL("CREATE VIEW attack.no_barrier AS SELECT * FROM published.village__{} "
                             "WHERE division_code = '330683001002'").format(sql.SQL(HR)))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA attack TO {}").format(sql.Identifier(VILLAGE)))
        conn.execute(sql.SQL("GRANT SELECT ON attack.no_barrier TO {}").format(sql.Identifier(VILLAGE)))
        try:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(VILLAGE)))
            for knob in ("enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan"):
                conn.execute(f"SET {knob} = off")  # a reader may do this to force a scan of all rows
            conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE attack.leak(division_code)").format(
                sql.Identifier(VILLAGE, HR)))
            seen = {m.removeprefix("saw ") for m in notices if m.startswith("saw ")}
            assert seen == {"330683001002"}
            failing_cast = ("SELECT count(*) FROM {} WHERE (CASE WHEN division_code <> '330683001002' "
                            "THEN 'x' || division_code ELSE '1' END)::int = 1")
            n = conn.execute(sql.SQL(failing_cast).format(sql.Identifier(VILLAGE, HR))).fetchone()[0]
            assert n == county.village_total(HR, "330683001002")  # the failing cast never saw another row
            notices.clear()
            conn.execute("SELECT count(*) FROM attack.no_barrier WHERE attack.leak(division_code)")
            assert len({m for m in notices if m.startswith("saw ")}) > 1  # without the barrier it leaks
        finally:
            conn.execute("RESET ROLE")
            conn.execute("RESET ALL")
            conn.execute("DROP SCHEMA attack CASCADE")


def test_auditor_reads_governance_only(county: County):
    with county.connect() as conn:
        conn.execute("SET ROLE auditor")
        try:
            assert conn.execute("SELECT count(*) FROM governance.publish_log").fetchone()[0] >= 1
            assert conn.execute("SELECT count(*) FROM governance.some_rows").fetchone()[0] == 1
            for schema, name in (("tiers", f"city__{HR}"), ("city", HR), ("raw", "some_rows"),
                                 ("published", f"city__{HR}")):
                assert _refused(conn, schema, name)
        finally:
            conn.execute("RESET ROLE")


@pytest.mark.slow
def test_every_unit_role_reads_exactly_its_own_views(county: County):
    layout_units = ["city"] + [u.schema for u in county.topology.units]
    with county.connect() as conn:
        granted = conn.execute(
            "SELECT r.rolname, n.nspname, c.relname FROM pg_roles r CROSS JOIN pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE r.rolname = ANY(%s) AND c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S') "
            "AND n.nspname <> ALL(%s) AND left(n.nspname, 3) <> 'pg_' "
            "AND (has_table_privilege(r.oid, c.oid, 'SELECT') "
            "     OR has_any_column_privilege(r.oid, c.oid, 'SELECT'))",
            (layout_units, list(SYSTEM))).fetchall()
        usage = conn.execute(
            "SELECT r.rolname, n.nspname FROM pg_roles r CROSS JOIN pg_namespace n "
            "WHERE r.rolname = ANY(%s) AND n.nspname <> ALL(%s) AND left(n.nspname, 3) <> 'pg_' "
            "AND has_schema_privilege(r.oid, n.oid, 'USAGE')", (layout_units, list(SYSTEM))).fetchall()
        views = conn.execute(ALL_RELATIONS, (list(SYSTEM),)).fetchall()
        own: dict[str, set[tuple[str, str]]] = {}
        for s, n, _ in views:
            if s in layout_units:
                own.setdefault(s, set()).add((s, n))
        got: dict[str, set[tuple[str, str]]] = {}
        for role, s, n in granted:
            got.setdefault(role, set()).add((s, n))
        for role in layout_units:
            assert got.get(role, set()) == own.get(role, set()), role
        assert sorted(usage) == sorted((r, r) for r in layout_units)
        # and for real: every role reads each of its views, and is refused the build and a neighbour
        for role in layout_units:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
            try:
                for _, name in sorted(own.get(role, ())):
                    conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(role, name)))
                assert _refused(conn, "tiers", f"village__{HR}")
                assert _refused(conn, "published", f"village__{HR}")
                neighbour = VILLAGE if role != VILLAGE else CLEAR_VILLAGE
                assert _refused(conn, neighbour, HR)
            finally:
                conn.execute("RESET ROLE")


# --- the atomic switch ---------------------------------------------------------------------------


def test_steady_state_switch_touches_no_unit_relation(county: County):
    with county.connect() as conn:
        oids = conn.execute("SELECT %s::regclass::oid, %s::regclass::oid",
                            (f"{VILLAGE}.{HR}", f"city.{HR}")).fetchone()
    outcome = county.publish()
    ch = outcome.changes
    assert ch.unit_relations_in_switch == 0 and not ch.switch_grants and not ch.prepare_views
    # the per-tier views, the versions they read (old and new), the log — no unit schema
    locked = {s for s in outcome.switch.locked_schemas if not s.startswith("version_")}
    assert locked <= {"published", "governance", "pg_catalog", "pg_toast"}
    assert outcome.switch.locks_held < 4 * len(outcome.layout.sources) + 20  # O(sources), not O(units)
    with county.connect() as conn:
        assert conn.execute("SELECT %s::regclass::oid, %s::regclass::oid",
                            (f"{VILLAGE}.{HR}", f"city.{HR}")).fetchone() == oids
        acl = conn.execute("SELECT relacl::text[] FROM pg_class WHERE oid = %s::regclass",
                           (f"{VILLAGE}.{HR}",)).fetchone()[0]
        assert any(a.startswith(f"{VILLAGE}=r/") for a in acl)
        versions = [r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname ~ '^version_'")]
    assert versions == [outcome.schema]  # the old version was dropped


def test_reader_sees_the_old_or_the_new_state_never_a_mix(county: County):
    code = "330683001002"
    planted = county.plant(seed=2)
    planted[HR][code] = 3
    county.publish()
    old_v, old_city = 3, sum(planted[HR].values())
    planted[HR][code] = 10  # the next build: this village grows, and so does the city
    new_v, new_city = 10, old_city + 7

    # Readers on their own connections, in both orders (village then city, city then village),
    # and one reading the village alone: the order in which a reader locks the views must
    # not matter (no deadlock), and one statement sees the village and the city of one version.
    seen: dict[str, list[tuple[int, int]]] = {"village-city": [], "city-village": [], "village": []}
    stop = threading.Event()
    errors_seen: list[BaseException] = []
    village, city = sql.Identifier(VILLAGE, HR), sql.Identifier("city", HR)
    pair = "SELECT (SELECT count(*) FROM {}), (SELECT count(*) FROM {})"
    queries = {
        "village-city": sql.SQL(pair).format(village, city),
        "city-village": sql.SQL("SELECT v, c FROM (SELECT count(*) AS c FROM {}) x, "
                                "(SELECT count(*) AS v FROM {}) y").format(city, village),
        "village": sql.SQL("SELECT count(*), 0 FROM {}").format(village),
    }

    def read(name: str) -> None:
        try:
            with psycopg.connect(county.url, autocommit=True) as reader:
                while not stop.is_set():
                    seen[name].append(reader.execute(queries[name]).fetchone())
        except BaseException as exc:  # pragma: no cover - reported below
            errors_seen.append(exc)

    threads = [threading.Thread(target=read, args=(n,)) for n in queries]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        outcome = county.publish(before_switch=lambda _b: time.sleep(0.3))
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors_seen
    for name, rows in seen.items():
        old, new = ((old_v, 0), (new_v, 0)) if name == "village" else ((old_v, old_city), (new_v, new_city))
        assert rows[0] == old and rows[-1] == new, name
        assert set(rows) == {old, new}, name  # village and city always from one version, never 0
        flip = rows.index(new)
        assert all(r == new for r in rows[flip:]), name  # never back to the old one
        assert len(rows) > 20
    assert outcome.switch.attempts >= 1


def test_failure_before_the_switch_leaves_everything_published(county: County):
    with county.connect() as conn:
        before = _state(conn)
    county.plant(seed=3)

    def boom(_built) -> None:
        raise RuntimeError("injected failure before the switch")

    with pytest.raises(RuntimeError, match="injected"):
        county.publish(before_switch=boom)
    with county.connect() as conn:
        assert _state(conn) == before
        versions = [r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname ~ '^version_'")]
        assert len(versions) == 1  # the failed build is gone …
        back = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'tiers'").fetchone()[0]
        assert back == 6 * len(RELATIONS)  # … and its adopted tables are back in tiers, as dbt left them
    assert _lock_is_free(county.url)


def test_failed_gate_refuses_to_publish(county: County):
    with county.connect() as conn:
        before = _state(conn)

    def lose_a_row(conn: psycopg.Connection) -> None:
        """One row lost between the city and the village audience: the split no longer reconciles."""
        conn.execute(sql.SQL("DELETE FROM tiers.{} WHERE ctid = (SELECT ctid FROM tiers.{} "
                             "WHERE right(division_code, 3) <> '000' LIMIT 1)").format(
            sql.Identifier(f"village__{HR}"), sql.Identifier(f"village__{HR}")))

    county.tamper = lose_a_row
    try:
        with pytest.raises(GateFailed) as failed:
            county.publish()
    finally:
        county.tamper = None
    names = {r.name for r in failed.value.results if not r.passed}
    assert names == {"villages_plus_town_level_equal_city", "audiences_equal_city",
                     "units_hold_what_their_filter_admits"}  # the village short of its city rows
    with county.connect() as conn:
        assert _state(conn) == before
    assert _lock_is_free(county.url)


def test_a_killed_publish_releases_the_lock_and_changes_nothing(county: County):
    county.plant(seed=4)
    with county.connect() as conn:
        before = _state(conn)
    script = (
        "import sys, time, datetime as dt\n"
        "from pipelines.publish import publish\n"
        "from pipelines.topology import load_topology, DEFAULT_PATH\n"
        "def hang(_b):\n"
        "    print('READY', flush=True); time.sleep(600)\n"
        "publish(sys.argv[1], load_topology(DEFAULT_PATH), day=dt.date(2026, 11, 23), before_switch=hang)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, county.url], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
        with county.connect() as conn:
            assert "huiliu publish" in (describe_holder(conn) or "")
        assert not _lock_is_free(county.url)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 10
    while not _lock_is_free(county.url):
        assert time.monotonic() < deadline, "the server did not release the dead publisher's lock"
        time.sleep(0.1)
    with county.connect() as conn:
        assert _state(conn) == before
    outcome = county.publish()  # the next publish works and removes the dead one's version
    with county.connect() as conn:
        versions = [r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname ~ '^version_'")]
        assert versions == [outcome.schema]
        assert _count(conn, VILLAGE, HR) == county.village_total(HR, "330683001002")


def test_two_publishes_never_interleave(county: County):
    events: list[tuple[str, str]] = []
    outcomes: dict[str, object] = {}
    failures: list[BaseException] = []

    def run(name: str) -> None:
        def build(_layout: object) -> None:
            events.append((name, "build"))
            county.rebuild()
            time.sleep(0.4)

        try:
            outcomes[name] = county.publish(build_tiers=build, run_id=name,
                                            before_switch=lambda _b: events.append((name, "switch")))
            events.append((name, "done"))
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    first = events[0][0]
    second = "b" if first == "a" else "a"
    assert events == [(first, "build"), (first, "switch"), (first, "done"),
                      (second, "build"), (second, "switch"), (second, "done")]
    assert outcomes[second].version > outcomes[first].version  # type: ignore[attr-defined]
    assert outcomes[second].timings["lock wait"] > 0.3  # type: ignore[attr-defined]


def test_a_busy_lock_fails_clearly_when_told_not_to_wait(county: County):
    with PublishLock(county.url, label="huiliu publish holder-test"):
        with pytest.raises(PublishLockBusy, match=r"another publish is running.*holder-test"):
            county.publish(lock_wait=0)
        with pytest.raises(PublishLockBusy, match=r"gave up after"):
            county.publish(lock_wait=0.3)
    assert _lock_is_free(county.url)


# --- rare layout changes ---------------------------------------------------------------------------


def test_a_changed_column_list_recreates_only_that_sources_views(county: County):
    source = f"village__{HR}"
    with county.connect() as conn:
        other = conn.execute("SELECT %s::regclass::oid", (f"{VILLAGE}.death_records",)).fetchone()[0]
    county.plant(seed=5, extra_columns={source: [("household_size", "integer", "(r.record_id % 5) + 1")]})
    outcome = county.publish()
    assert outcome.changes.recreated_sources == [source]
    assert len(outcome.changes.switch_views) == 304 and not outcome.changes.switch_drops
    with county.connect() as conn:
        cols = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
            "ORDER BY ordinal_position", (VILLAGE, HR))]
        assert cols[-1] == "household_size"
        assert conn.execute("SELECT %s::regclass::oid", (f"{VILLAGE}.death_records",)).fetchone()[0] == other
        assert conn.execute("SELECT col_description(%s::regclass, %s)", (f"{VILLAGE}.{HR}", len(cols))
                            ).fetchone()[0] == "household_size | test | 1 | keep"
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(VILLAGE)))
        try:
            assert _count(conn, VILLAGE, HR) == county.village_total(HR, "330683001002")
        finally:
            conn.execute("RESET ROLE")
    county.plant(seed=5)  # back to the usual columns
    assert county.publish().changes.recreated_sources == [source]


def test_grants_expire_and_levels_change_at_the_switch(county: County):
    early = county.publish(day=dt.date(2026, 1, 15))  # dept_sxj's grant still runs
    assert ("dept_sxj", "enterprise_registry") in {(v.schema, v.dataset) for v in early.changes.prepare_views}
    with county.connect() as conn:
        rows = sum(county.planted["enterprise_registry"].values())
        try:  # read on the publish's day: the grant (last valid day 2026-01-31) is judged when read
            conn.execute("UPDATE governance.county_clock SET today = '2026-01-15'")
            assert _count(conn, "dept_sxj", "enterprise_registry") == rows
            conn.execute("UPDATE governance.county_clock SET today = '2026-02-01'")
            assert _count(conn, "dept_sxj", "enterprise_registry") == 0  # expired, though nothing ran
        finally:
            conn.execute("UPDATE governance.county_clock SET today = NULL")
    late = county.publish(day=dt.date(2027, 4, 1))  # sxj expired; the village's clear_names grant too
    assert ("dept_sxj", "enterprise_registry") in late.changes.switch_drops
    assert [(v.schema, v.dataset, v.audience) for v in late.changes.switch_views] == [
        (CLEAR_VILLAGE, "elderly_subsidy", "village")]
    with county.connect() as conn:
        assert conn.execute("SELECT to_regclass('dept_sxj.enterprise_registry')").fetchone()[0] is None
        assert conn.execute("SELECT pg_get_viewdef(%s::regclass)", (f"{CLEAR_VILLAGE}.elderly_subsidy",)
                            ).fetchone()[0].count("village__elderly_subsidy") >= 1
    back = county.publish()
    assert [(v.schema, v.audience) for v in back.changes.switch_views] == [(CLEAR_VILLAGE, "clear_names")]


# --- the Dagster asset -------------------------------------------------------------------------------


class _Invocation:
    def wait(self) -> _Invocation:
        return self

    def stream_raw_events(self) -> Iterator[object]:
        return iter(())


class _StubDbt:
    """Stands in for DbtCliResource: records the dbt command and rebuilds the stand-in tiers."""

    def __init__(self, build: Callable[[], None]) -> None:  # the stand-in plants every relation
        self.calls: list[list[str]] = []
        self.build = build

    def cli(self, args: list[str], **_kwargs: object) -> _Invocation:
        self.calls.append(list(args))
        self.build()
        return _Invocation()


def test_the_dagster_asset_publishes_with_metadata(county: County, monkeypatch: pytest.MonkeyPatch):
    import dagster as dg

    from pipelines.publish.assets import PUBLISH_KEY, TIER_KEYS, publish_warehouse
    from pipelines.resources import Warehouse

    monkeypatch.setenv("HUILIU_PARTITIONS", str(DEFAULT_PATH))
    # stand-in tiers carry no policy: only the reconciliation gates apply to them here
    # (the quality gates are proven on real builds in tests/test_gates_*.py)
    from pipelines.publish import assets
    from pipelines.publish.run import DEFAULT_GATES

    monkeypatch.setattr(assets, "ALL_GATES", DEFAULT_GATES)
    dbt = _StubDbt(county.rebuild)
    result = dg.materialize([publish_warehouse], resources={"dbt": dbt, "warehouse": Warehouse(url=county.url)})
    assert result.success
    # one dbt build of exactly the tier relations some unit reads today: no unread audience's copy
    from pipelines.clock import today_in_county
    from pipelines.publish.layout import plan_layout

    read = {s.name for s in plan_layout(load_topology(DEFAULT_PATH), today_in_county()).relations}
    assert len(dbt.calls) == 1 and dbt.calls[0][:2] == ["build", "--select"] and len(dbt.calls[0]) == 5
    assert set(dbt.calls[0][2].split()) == read and "clear_names__person_ledger" not in read
    assert "village__person_ledger" in read and "clear_names__elderly_subsidy" in read
    meta = {e.materialization.asset_key: e.materialization.metadata
            for e in result.get_asset_materialization_events()}
    assert set(meta) == set(TIER_KEYS.values()) | {PUBLISH_KEY}
    assert "| town_330683100 | 甘霖镇 |" in table_markdown(meta[TIER_KEYS["town"]]["rows per town"])
    city = meta[TIER_KEYS["city"]]
    assert city["rows published"].value == sum(sum(p.values()) for p in county.planted.values())
    # one number per dataset, so the asset page plots each across runs
    assert {k: v.value for k, v in city.items() if k.startswith("rows published · ")} == {
        f"rows published · {d}": sum(p.values()) for d, p in county.planted.items()}
    assert "| villages_plus_town_level_equal_city | 1 | 0 |" in table_markdown(meta[PUBLISH_KEY]["gates"])
    with county.connect() as conn:
        assert conn.execute("SELECT run_id FROM governance.publish_log ORDER BY publish_id DESC LIMIT 1"
                            ).fetchone()[0] == result.run_id


# --- other databases, other counties ---------------------------------------------------------------


def test_a_second_database_on_the_server_reuses_the_roles(county: County, warehouse_url: str):
    admin, name, url = _db_url(warehouse_url, "pub2")
    try:
        second = County(url, county.topology)
        second.plant(seed=9)
        outcome = second.publish()
        assert outcome.roles.created == [] and outcome.roles.existing == 360
        with second.connect() as conn:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(VILLAGE)))
            try:
                assert _count(conn, VILLAGE, HR) == second.village_total(HR, "330683001002")
                assert _refused(conn, "tiers", f"village__{HR}")
            finally:
                conn.execute("RESET ROLE")
        with county.connect() as conn:  # the first database is untouched
            assert _count(conn, VILLAGE, HR) == county.village_total(HR, "330683001002")
    finally:
        drop_database(admin, name)


def test_a_very_first_publish_that_dies_before_its_switch_leaves_nothing(county: County, warehouse_url: str):
    admin, name, url = _db_url(warehouse_url, "first")
    try:
        first = County(url, county.topology)
        first.plant(seed=11)

        def boom(_built) -> None:
            raise RuntimeError("the very first publish dies before its switch")

        with pytest.raises(RuntimeError, match="very first"):
            first.publish(before_switch=boom)
        with first.connect() as conn:  # nothing published: no placeholder, no unit view, the build given back
            views = "SELECT count(*) FROM pg_views WHERE schemaname ~ '^(published|city|dept_|town_|village_)'"
            assert conn.execute(views).fetchone()[0] == 0
            tiers = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'tiers'").fetchone()[0]
        assert tiers == 6 * len(RELATIONS)
    finally:
        drop_database(admin, name)


def test_another_county_on_this_server_is_refused_before_anything_is_built(
        county: County, warehouse_url: str, monkeypatch: pytest.MonkeyPatch):
    """Roles are cluster-wide: the small county would share `city` and `dept_*` with Shengzhou's.
    tests/test_second_county.py onboards another county on a server of its own."""
    monkeypatch.setenv("HUILIU_PARTITIONS", str(SMALL))
    topology = load_topology()
    assert (topology.county_code, len(topology.towns), len(topology.villages)) == ("339901", 2, 5)
    admin, name, url = _db_url(warehouse_url, "small")
    try:
        small = County(url, topology)
        small.plant(seed=11)
        with pytest.raises(RoleError, match=r"serve county 330683 .*county 339901 示例县 needs a PostgreSQL "
                                            r"server of its own"):
            small.publish()
        with small.connect() as conn:
            schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")}
            assert not schemas & {"published", "city", "town_339901001", "village_339901001001"}
        with county.connect() as conn:  # Shengzhou's roles and data are untouched
            mark = conn.execute(ROLE_COMMENT).fetchone()[0]
            assert mark.startswith("huiliu: the unit roles of county 330683")
    finally:
        drop_database(admin, name)
