"""publish(): write, audit, publish — the whole sequence under one advisory lock.

lock → build the unpublished tiers (dbt, optional) → copy them into a new version out of
sight → gates → roles → prepare (new schemas and views only) → one-transaction switch →
comments and old versions. Anything that fails before the switch drops the new version and
leaves the published state exactly as it was; the lock is released in every case (and by
the server if the process dies).
"""

from __future__ import annotations

import datetime as dt
import getpass
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from pipelines.clock import today_in_county
from pipelines.contract import DATASETS
from pipelines.crashpoints import crash_point
from pipelines.derived import WARNINGS, held_with
from pipelines.gates.base import Gate, GateFailed, GateResult
from pipelines.gates.holds import Holds, decide_holds
from pipelines.gates.reconcile import reconciliation_gate
from pipelines.govern.audit import audit_unit_schemas, ensure_audit
from pipelines.ingest.schema import application_grants, ensure_grants, sync_grants
from pipelines.lock import PublishLock
from pipelines.naming import PROTECTED_SCHEMA, ident, protected_name
from pipelines.progress import emit
from pipelines.publish.build import Adopt, BuiltVersion, build_version, discard_version
from pipelines.publish.changes import Changes, plan_changes
from pipelines.publish.layout import Layout, plan_layout
from pipelines.publish.privileges import enforce as enforce_privileges
from pipelines.publish.roles import RoleReport, claim_county, ensure_roles, grant_auditor, lock_down_public
from pipelines.publish.switch import (
    SwitchReport,
    after_switch,
    drop_stale_versions,
    ensure_publish_log,
    gates_json,
    prepare,
    switch,
)
from pipelines.publish.warnings import WarningCounts, commit_state
from pipelines.topology import Topology

# publish()'s own default: the reconciliation of counts, which needs nothing but the build. The
# publish asset passes pipelines.gates.ALL_GATES (suites, lineage, files as well).
DEFAULT_GATES: tuple[Gate, ...] = (reconciliation_gate,)


@dataclass
class PublishOutcome:
    version: int
    schema: str
    layout: Layout
    built: BuiltVersion
    gates: list[GateResult]
    changes: Changes
    switch: SwitchReport
    roles: RoleReport
    dropped_versions: list[str]
    batch_dates: list[dt.date]
    timings: dict[str, float] = field(default_factory=dict)
    holds: Holds = field(default_factory=Holds)
    warnings: WarningCounts | None = None  # None: no warnings published by this run (held, or none built)

    @property
    def rows_by_tier(self) -> dict[str, dict]:
        return self.built.counts.rows_by_tier(self.layout)


def held_relations(conn: psycopg.Connection, holds: Holds) -> dict[str, int]:
    """Relation → city rows it keeps from the last publish: the held datasets, and the ledgers and
    topic libraries computed from any of them (a ledger beside a held dataset would tell its new state)."""
    hold = {d: h.state.published_rows or 0 for d, h in holds.held.items()}
    derived = held_with(set(hold))
    if derived:
        row = conn.execute("SELECT rows_by_tier -> 'city' FROM governance.publish_log "
                           "ORDER BY publish_id DESC LIMIT 1").fetchone()
        previous = (row[0] or {}) if row else {}
        hold |= {r: int(previous.get(r, 0)) for r in sorted(derived)}
    return hold


def state_dates(conn: psycopg.Connection, held: Iterable[str]) -> dict[str, list[str]]:
    """Per dataset, the batch dates of the rows it publishes: its protected current state's, or
    for a held dataset what the last publish recorded for it."""
    held = set(held)
    previous: dict[str, list[str]] = {}
    if held:
        row = conn.execute("SELECT dataset_dates FROM governance.publish_log ORDER BY publish_id DESC LIMIT 1"
                           ).fetchone()
        previous = row[0] if row else {}
    out: dict[str, list[str]] = {}
    for d in DATASETS:
        if d in held:
            out[d] = previous.get(d, [])
            continue
        table = protected_name(d)
        if conn.execute("SELECT to_regclass(%s)", (f"{PROTECTED_SCHEMA}.{table}",)).fetchone()[0] is None:
            continue
        out[d] = [r[0].isoformat() for r in conn.execute(sql.SQL(
            "SELECT DISTINCT batch_date FROM {} ORDER BY 1").format(ident(PROTECTED_SCHEMA, table))).fetchall()]
    return out


def publish(
    url: str,
    topology: Topology,
    *,
    day: dt.date | None = None,
    run_id: str | None = None,
    batch_dates: Sequence[dt.date] | None = None,
    build_tiers: Callable[[Layout], None] | None = None,
    gates: Sequence[Gate] = DEFAULT_GATES,
    lock_wait: float | None = None,
    switch_wait_seconds: float = 60.0,
    adopt: Adopt = "move",
    workers: int = 2,
    before_switch: Callable[[BuiltVersion], None] | None = None,
    accept_drop: Iterable[str] = (),
    log: Callable[[str], None] = lambda _m: None,
) -> PublishOutcome:
    """Build, gate and publish every tier of `topology` into the database at `url`.

    `build_tiers` runs the unpublished build (dbt) of the layout's sources inside the lock; `gates`
    decide; grants are judged on `day` (default: today in the county); `before_switch` is a hook for tests
    and operators (an exception there behaves like any failure before the switch). `adopt`
    moves dbt's tables into the version (default) or copies them; `workers` connections
    index, analyse and count them in parallel. A dataset over its value-quality threshold or
    with a volume drop keeps its previous published state (gates/holds.py) unless the drop is
    in `accept_drop`; `batch_dates` overrides the dates recorded (default: those the state holds).
    """
    day = day or today_in_county()
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    label = f"huiliu publish {run_id or ''}".strip()
    with PublishLock(url, wait=lock_wait, label=label, log=log) as lock, \
            psycopg.connect(url, autocommit=True, application_name=label[:60]) as conn:
        timings["lock wait"] = lock.waited
        claim_county(conn, topology.county_code, topology.county_name)  # one county's roles per server
        ensure_grants(conn)  # approved permission applications hold beside partitions.yaml's grants
        topology = topology.with_grants(application_grants(conn))
        layout = plan_layout(topology, day)
        if build_tiers is not None:
            t = time.monotonic()
            build_tiers(layout)
            timings["dbt build tiers"] = time.monotonic() - t
        ensure_publish_log(conn)
        drop_stale_versions(conn, keep=set(), give_back=True, log=log)  # leftovers of a publish that died
        holds = decide_holds(conn, accept_drop=accept_drop, run_id=run_id, accepted_by=getpass.getuser())
        for hold in holds.held.values():
            log(f"held {hold.dataset} ({hold.cause}): {hold.reason}")
        built = build_version(conn, url, layout, adopt=adopt, workers=workers, log=log,
                              hold=held_relations(conn, holds))
        timings.update({f"build: {k}": v for k, v in built.timings.items()})
        try:
            t = time.monotonic()
            results: list[GateResult] = []
            # --- quality gates run here: every gate sees the built, unpublished version -------
            emit("gates", "start", f"{built.schema}: {len(built.sources)} relations")
            for gate in gates:
                results += gate(conn, built)
                crash_point("gates")  # test-only
                emit("gates", detail=getattr(gate, "__name__", "gate"), done=len(results))
            passed = sum(r.passed for r in results)
            emit("gates", "finish" if passed == len(results) else "fail",
                 f"{passed} of {len(results)} checks passed", len(results))
            timings["gates"] = time.monotonic() - t
            if not all(r.passed for r in results):
                raise GateFailed(results)
            t = time.monotonic()
            with conn.transaction():  # granted views judge grants at read time: the same topology's
                ensure_grants(conn)
                sync_grants(conn, topology)
            roles = ensure_roles(conn, [u.schema for u in layout.units])
            roles.repaired = enforce_privileges(conn, [u.schema for u in layout.units])
            grant_auditor(conn)
            lock_down_public(conn)
            changes = plan_changes(conn, built)
            prepare(conn, built, changes)
            timings["roles and prepare"] = time.monotonic() - t
            if before_switch is not None:
                before_switch(built)
            crash_point("before_switch")  # test-only
            per_dataset = state_dates(conn, holds.held)
            dates = (list(batch_dates) if batch_dates is not None else
                     sorted({dt.date.fromisoformat(x) for v in per_dataset.values() for x in v}))
            emit("publish", "start", f"switch to {built.schema}")
            report = switch(lock, built, changes, run_id=run_id, batch_dates=dates,
                            rows_by_tier=built.counts.rows_by_tier(layout), gates=gates_json(results),
                            held_datasets=holds.as_json(), dataset_dates=per_dataset,
                            wait_seconds=switch_wait_seconds, log=log)
        except BaseException:
            try:
                discard_version(conn, built, log=log)  # keeps it if the switch did commit
            except Exception as cleanup:  # the original failure matters more; the next publish cleans up
                log(f"could not discard {built.schema} ({cleanup}); the next publish drops it")
            raise
        timings["switch"] = report.seconds
        crash_point("after_switch")  # test-only: published, not yet cleaned up
        t = time.monotonic()
        # the warnings published: their state is what the next batch date is judged against
        warnings = None if WARNINGS in built.held else commit_state(conn)
        dropped = after_switch(conn, built, changes, log=log)
        ensure_audit(conn)
        audit_unit_schemas(conn, [u.schema for u in layout.units])  # pgaudit logs every read of them
        timings["after switch"] = time.monotonic() - t
    timings["total"] = time.monotonic() - t0
    emit("publish", "finish", f"published {built.schema} (switch {report.seconds * 1000:.0f} ms)")
    log(f"published {built.schema} in {timings['total']:.1f} s (switch {report.seconds * 1000:.0f} ms, "
        f"{report.locks_held} locks)")
    return PublishOutcome(built.number, built.schema, layout, built, results, changes, report, roles,
                          dropped, dates, timings, holds, warnings)
