"""The atomic switch: every tier moves to the new version in one short transaction.

Unit views read `published.<audience>__<dataset>`; the switch redefines those few views with
CREATE OR REPLACE VIEW (same OID, so unit views, their grants and COMMENTs are untouched)
to read the new version's tables, records the publish in governance.publish_log, and
commits. It locks O(tiers × datasets) relations, all in one bounded LOCK statement first, so
it never waits while holding locks long enough to deadlock a reader: a reader of any unit
view sees the old version or the new one, never a mix and never an empty relation. It runs
on the lock's own connection, so it cannot happen once that lock is lost. Old versions are
dropped afterwards, giving way (lock_timeout) to readers still in them; the next publish
retries. New unit schemas and views are created before it (`prepare`), comments refreshed
after it: neither needs to be atomic with the data.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from pipelines.derived import relation_label
from pipelines.lock import PublishLock
from pipelines.naming import GOVERNANCE_SCHEMA, PUBLISHED_SCHEMA, columns, ident, version_number
from pipelines.publish import catalog
from pipelines.publish.build import BuiltVersion, comment_statements, drop_version, restore_build
from pipelines.publish.catalog import Shape
from pipelines.publish.changes import Changes, falls_back, view_comment
from pipelines.publish.layout import UnitView, unit_view_sql
from pipelines.publish.roles import grant_schema, grant_view, revoke_schema, revoke_view

PUBLISH_LOG_DDL = """
CREATE TABLE IF NOT EXISTS governance.publish_log (
    publish_id    bigserial   PRIMARY KEY,
    published_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    run_id        text,
    version       integer     NOT NULL UNIQUE,
    batch_dates   date[]      NOT NULL DEFAULT '{}',
    rows_by_tier  jsonb       NOT NULL,
    gates         jsonb       NOT NULL
);
COMMENT ON TABLE governance.publish_log IS
    '每次发布一行: 发布时间、运行、版本、批次日期、各层各单元行数、质量闸门结果';
COMMENT ON COLUMN governance.publish_log.version IS '发布的版本号 (version_NNNNNN)';
COMMENT ON COLUMN governance.publish_log.batch_dates IS '当前状态所含的批次日期';
COMMENT ON COLUMN governance.publish_log.rows_by_tier IS
    '各层 (city/department/town/village) 各单元各数据集行数';
COMMENT ON COLUMN governance.publish_log.gates IS '每个质量闸门: 名称、是否通过、说明';
ALTER TABLE governance.publish_log ADD COLUMN IF NOT EXISTS held jsonb NOT NULL DEFAULT '{}';
ALTER TABLE governance.publish_log ADD COLUMN IF NOT EXISTS dataset_dates jsonb NOT NULL DEFAULT '{}';
COMMENT ON COLUMN governance.publish_log.held IS '保持上次发布状态的数据集及原因 (质量阈值或数据量骤降)';
COMMENT ON COLUMN governance.publish_log.dataset_dates IS '各数据集发布状态所含的批次日期';
"""

INSERT_LOG = """
INSERT INTO governance.publish_log (run_id, version, batch_dates, rows_by_tier, gates, held, dataset_dates)
VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING publish_id, published_at
"""

LOCKS_HELD = """
SELECT l.locktype, n.nspname, count(*)
FROM pg_locks l
LEFT JOIN pg_class c ON c.oid = l.relation
LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE l.pid = pg_backend_pid() AND l.relation IS DISTINCT FROM 'pg_locks'::regclass
GROUP BY 1, 2
"""

BATCH = 400  # statements per round trip (and views per prepare transaction)


class SwitchError(RuntimeError):
    """The switch could not take its locks in time (long-running readers); nothing was published."""


@dataclass
class SwitchReport:
    publish_id: int
    published_at: datetime
    attempts: int
    seconds: float
    statements: int
    locks_held: int  # heavyweight locks of the switch transaction just before COMMIT
    locked_schemas: frozenset[str]  # schemas of the relations it locked


def ensure_publish_log(conn: psycopg.Connection) -> None:
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident(GOVERNANCE_SCHEMA)))
    conn.execute(PUBLISH_LOG_DDL)


def _unit_view(built: BuiltVersion, v: UnitView) -> sql.Composed:
    return unit_view_sql(v, built.shapes[v.source].names, with_fallback=falls_back(v, built.shapes))


def source_view_sql(source: str, version: str, shape: Shape, *, verb: str = "CREATE OR REPLACE VIEW",
                    placeholder: bool = False) -> sql.Composed:
    """published.<source> = SELECT <columns> FROM version_NNNNNN.<source> (WHERE false before the switch)."""
    return sql.SQL("{} {} AS SELECT {} FROM {}{}").format(
        sql.SQL(verb), ident(PUBLISHED_SCHEMA, source), columns(shape.names), ident(version, source),
        sql.SQL(" WHERE false") if placeholder else sql.SQL(""))


def unit_view_comments(built: BuiltVersion, v: UnitView) -> list[sql.Composed]:
    unit = built.layout.unit(v.schema)
    shape = built.shapes[v.source]
    text = view_comment(v, unit.name, shape, relation_label(v.dataset))
    return comment_statements(ident(v.schema, v.dataset), shape, "VIEW", table_comment=text)


def execute_batched(conn: psycopg.Connection, statements: Sequence[sql.Composable], size: int = BATCH) -> None:
    for i in range(0, len(statements), size):
        conn.execute(sql.SQL(";\n").join(statements[i:i + size]))


def _chunks_by_view(built: BuiltVersion, views: list[UnitView], grants: set[tuple[str, str]]
                    ) -> Iterable[list[sql.Composed]]:
    """Statements for new unit views, grouped so that each transaction holds few locks."""
    for i in range(0, len(views), BATCH):
        stmts: list[sql.Composed] = []
        for v in views[i:i + BATCH]:
            stmts.append(_unit_view(built, v))
            stmts += unit_view_comments(built, v)
            if (v.schema, v.dataset) in grants:
                stmts.append(grant_view(v.schema, v.dataset))
        yield stmts


def prepare(conn: psycopg.Connection, built: BuiltVersion, ch: Changes) -> None:
    """Before the switch: new schemas, placeholder sources and new unit views (see changes.py)."""
    stmts: list[sql.Composable] = []
    for schema in ch.new_schemas:
        stmts.append(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident(schema)))
    stmts += [grant_schema(s) for s in ch.schema_grants]
    stmts += [revoke_schema(s, roles) for s, roles in ch.schema_revokes.items()]
    for s in ch.new_sources:
        stmts.append(source_view_sql(s, built.schema, built.shapes[s], verb="CREATE VIEW", placeholder=True))
        stmts += comment_statements(ident(PUBLISHED_SCHEMA, s), built.shapes[s], "VIEW")
    if stmts:
        with conn.transaction():
            execute_batched(conn, stmts)
    grants = {(v.schema, v.dataset) for v in ch.prepare_grants}
    for chunk in _chunks_by_view(built, ch.prepare_views, grants):
        with conn.transaction():
            execute_batched(conn, chunk)


def switch_statements(built: BuiltVersion, ch: Changes) -> list[sql.Composable]:
    stmts: list[sql.Composable] = []
    for s in ch.recreated_sources:  # column list changed (rare): dependents go and come back below
        stmts.append(sql.SQL("DROP VIEW IF EXISTS {} CASCADE").format(ident(PUBLISHED_SCHEMA, s)))
        stmts.append(source_view_sql(s, built.schema, built.shapes[s], verb="CREATE VIEW"))
        stmts += comment_statements(ident(PUBLISHED_SCHEMA, s), built.shapes[s], "VIEW")
    for s in ch.replaced_sources:  # the steady state: only these
        stmts.append(source_view_sql(s, built.schema, built.shapes[s]))
    for s in ch.source_comments:
        stmts += comment_statements(ident(PUBLISHED_SCHEMA, s), built.shapes[s], "VIEW")
    for schema, name in ch.switch_drops:
        stmts.append(sql.SQL("DROP VIEW IF EXISTS {}").format(ident(schema, name)))
    for v in ch.switch_views:
        stmts.append(_unit_view(built, v))
    stmts += [grant_view(v.schema, v.dataset) for v in ch.switch_grants]
    stmts += [revoke_view(s, n, roles) for (s, n), roles in ch.switch_revokes.items()]
    return stmts


BLOCKERS = """
SELECT DISTINCT a.pid, coalesce(nullif(a.application_name, ''), '?'), a.state,
       extract(epoch FROM now() - a.xact_start)::int
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.relation IN (SELECT to_regclass(n) FROM unnest(%s::text[]) n) AND l.granted
  AND a.pid <> pg_backend_pid()
ORDER BY 4 DESC NULLS LAST LIMIT 5
"""


def _lock_phase_ms(conn: psycopg.Connection) -> int:
    """Bound on waiting while holding switch locks: well under deadlock_timeout, so a reader
    queued behind the switch never waits long enough to be chosen as a deadlock victim."""
    deadlock_ms = conn.execute(
        "SELECT setting::int * CASE unit WHEN 's' THEN 1000 ELSE 1 END FROM pg_settings "
        "WHERE name = 'deadlock_timeout'").fetchone()[0]
    return max(20, min(300, deadlock_ms // 3))


def switch(lock: PublishLock, built: BuiltVersion, ch: Changes, *, run_id: str | None,
           batch_dates: Sequence[date], rows_by_tier: dict, gates: list[dict],
           held_datasets: dict | None = None, dataset_dates: dict | None = None,
           wait_seconds: float = 60.0, log: Callable[[str], None] = lambda _m: None) -> SwitchReport:
    """One transaction on the lock's connection.

    It first takes ACCESS EXCLUSIVE on every relation it will redefine or drop, in one
    LOCK statement bounded by a short statement_timeout; if readers hold one of them it
    rolls back, waits a moment and tries again (up to `wait_seconds`), so it never holds a
    lock while waiting for long and never deadlocks a reader. Then it redefines and commits.
    """
    conn = lock.connection
    stmts = switch_statements(built, ch)
    targets = [(PUBLISHED_SCHEMA, s) for s in sorted(ch.replaced_sources + ch.recreated_sources)]
    targets += sorted(ch.locked_unit_views)
    lock_all = sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
        sql.SQL(", ").join(ident(s, n) for s, n in targets))
    phase_ms = _lock_phase_ms(conn)
    start = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            with conn.transaction():
                conn.execute(f"SET LOCAL lock_timeout = {phase_ms}")
                conn.execute(f"SET LOCAL statement_timeout = {phase_ms}")
                lock.assert_held()
                if targets:
                    conn.execute(lock_all)
                conn.execute("SET LOCAL statement_timeout = 0")
                conn.execute("SET LOCAL lock_timeout = 5000")  # the rest touches nothing readers hold
                execute_batched(conn, stmts)
                publish_id, published_at = conn.execute(INSERT_LOG, (
                    run_id, built.number, list(batch_dates), Jsonb(rows_by_tier), Jsonb(gates),
                    Jsonb(held_datasets or {}), Jsonb(dataset_dates or {}),
                )).fetchone()
                held = conn.execute(LOCKS_HELD).fetchall()
            return SwitchReport(
                publish_id, published_at, attempt, time.monotonic() - start, len(stmts) + 2,
                sum(n for _, _, n in held),
                frozenset(s for kind, s, _ in held if kind == "relation" and s is not None),
            )
        except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled,
                psycopg.errors.DeadlockDetected) as exc:
            if time.monotonic() - start > wait_seconds:
                names = [f"{s}.{n}" for s, n in targets]
                blockers = conn.execute(BLOCKERS, (names,)).fetchall()
                who = "; ".join(f"pid {p} {a!r} {st} for {sec} s" for p, a, st, sec in blockers) or "none now"
                raise SwitchError(f"the switch could not take its locks in {wait_seconds:.0f} s "
                                  f"({attempt} attempts); readers holding published views: {who}") from exc
            if attempt in (1, 10, 100):
                log(f"switch attempt {attempt} gave way to readers ({type(exc).__name__}); retrying")
            time.sleep(random.uniform(0.01, 0.05) * min(attempt, 10))


def after_switch(conn: psycopg.Connection, built: BuiltVersion, ch: Changes,
                 log: Callable[[str], None] = lambda _m: None) -> list[str]:
    """COMMENT refreshes, unused published views, old versions; returns the versions dropped."""
    stmts: list[sql.Composable] = []
    for v in ch.comment_views:
        stmts += unit_view_comments(built, v)
    for i in range(0, len(stmts), BATCH * 4):
        with conn.transaction():
            execute_batched(conn, stmts[i:i + BATCH * 4])
    for s in ch.unused_sources:
        try:
            conn.execute(sql.SQL("DROP VIEW IF EXISTS {}").format(ident(PUBLISHED_SCHEMA, s)))
        except psycopg.errors.DependentObjectsStillExist as exc:
            log(f"kept {PUBLISHED_SCHEMA}.{s}: {exc}")
    return drop_stale_versions(conn, keep={built.schema}, log=log)


def drop_stale_versions(conn: psycopg.Connection, keep: set[str], *, give_back: bool = False,
                        log: Callable[[str], None] = lambda _m: None) -> list[str]:
    """Drop every version schema that is neither kept nor read by a published view.

    With `give_back` (before a build, under the lock), a stale version newer than everything
    published is an unpublished build whose publish died: its adopted tables go back to tiers
    where dbt has not rebuilt them since, instead of being lost.
    """
    live = catalog.published_versions(conn) | keep
    newest_live = max((version_number(s) or 0 for s in live), default=0)
    dropped = []
    for number, schema in sorted(catalog.version_schemas(conn).items()):
        if schema in live:
            continue
        if give_back and number > newest_live:
            restored = restore_build(conn, schema)
            if restored:
                log(f"{schema} never published: gave {len(restored)} table(s) back to tiers")
        if drop_version(conn, schema):
            dropped.append(schema)
        else:
            log(f"{schema} is still being read; the next publish drops it")
    return dropped


def gates_json(results: Iterable) -> list[dict]:
    return [json.loads(json.dumps(r.as_json(), default=str)) for r in results]
