"""Permission applications (权限申请, `huiliu access grant request|approve|revoke|list`).

partitions.yaml's grants are the declarative baseline; an application adds to it once approved,
for its approval reference and through its last valid day, judged by the county clock when a
view is read (governance.grants_in_force). An approval applies at once: under the publish lock
the unit's views are planned as the next publish would plan them (plan_layout over the baseline
and every approved application) and the ones that differ are recreated over what is published
now; a revocation removes the grant at once the same way. What no published relation serves yet
(an audience nobody read before) is served from the next publish, which builds it. Every step is
one transaction with its line in governance.access_log.
"""

from __future__ import annotations

import datetime as dt
import getpass
from dataclasses import dataclass

import psycopg
from psycopg import sql

from pipelines.access.errors import Refused
from pipelines.access.record import ensure_access, record
from pipelines.contract import DATASETS
from pipelines.derived import relation_label
from pipelines.govern.audit import audit_unit_schemas
from pipelines.ingest.schema import application_grants, ensure_grants, sync_grants
from pipelines.lock import PublishLock
from pipelines.naming import PUBLISHED_SCHEMA, ident
from pipelines.publish.build import comment_statements
from pipelines.publish.catalog import shapes, unit_views
from pipelines.publish.changes import falls_back, view_comment, view_sources
from pipelines.publish.layout import plan_layout, unit_view_sql
from pipelines.publish.roles import grant_view
from pipelines.topology import GRANT_LEVELS, Topology

LOCK_WAIT_SECONDS = 120.0  # a publish in progress finishes first; its layout already has the grant


@dataclass(frozen=True)
class Applied:
    changed: tuple[str, ...]  # the unit's views recreated or dropped now
    pending: tuple[str, ...]  # datasets whose relation the next publish builds


@dataclass(frozen=True)
class Listed:
    origin: str  # 'partitions.yaml' or '#<application id>'
    unit: str
    dataset: str
    level: str
    status: str  # baseline | requested | approved | revoked
    approval: str
    expires: dt.date | None
    in_force: bool


def county_today(conn: psycopg.Connection) -> dt.date:
    """The county's date as the granted views judge it (governance.county_today: the county clock)."""
    ensure_grants(conn)
    return conn.execute("SELECT today FROM governance.county_today").fetchone()[0]


def request(conn: psycopg.Connection, topology: Topology, unit: str, dataset: str, level: str,
            reason: str) -> int:
    """Record an application; its id. Refused when the unit, dataset or level is not one, or the
    department owns the dataset already."""
    try:
        member = topology.unit(unit)
    except KeyError:
        raise Refused(f"unknown unit {unit!r}: not a department, town or village of partitions.yaml") from None
    if dataset not in DATASETS:
        raise Refused(f"unknown dataset {dataset!r} (one of {', '.join(sorted(DATASETS))})")
    if level not in GRANT_LEVELS:
        raise Refused(f"unknown level {level!r} (one of {', '.join(GRANT_LEVELS)})")
    if member.tier == "department" and DATASETS[dataset].owner == member.code:
        raise Refused(f"{unit} owns {dataset}: it reads it in full already")
    if not reason.strip():
        raise Refused("an application needs a reason")
    ensure_grants(conn)
    ensure_access(conn)
    with conn.transaction():
        app_id = conn.execute(
            "INSERT INTO governance.access_applications (unit, dataset, level, reason, requested_by) "
            "VALUES (%s, %s, %s, %s, %s) RETURNING application_id",
            (unit, dataset, level, reason.strip(), getpass.getuser())).fetchone()[0]
        record(conn, "grant_request", unit=unit, application_id=app_id, dataset=dataset, level=level)
    return app_id


def _application(conn: psycopg.Connection, app_id: int) -> tuple[str, str, str, str]:
    ensure_grants(conn)
    row = conn.execute("SELECT unit, dataset, level, status FROM governance.access_applications "
                       "WHERE application_id = %s", (app_id,)).fetchone()
    if row is None:
        raise Refused(f"no application #{app_id}")
    return row


def approve(conn: psycopg.Connection, url: str, topology: Topology, app_id: int, *, by: str, approval: str,
            expires: dt.date, today: dt.date | None = None) -> Applied:
    """Approve a requested application and apply it at once (Refused: unknown, not requested, expired)."""
    unit, dataset, level, status = _application(conn, app_id)
    if status != "requested":
        raise Refused(f"application #{app_id} is {status}, not requested")
    if not by.strip() or not approval.strip():
        raise Refused("an approval needs --by (who approves) and --approval (the approval reference)")
    today = today or county_today(conn)
    if expires < today:
        raise Refused(f"expires {expires} is before today ({today} in the county)")
    ensure_access(conn)
    with PublishLock(url, wait=LOCK_WAIT_SECONDS, label=f"huiliu access approve #{app_id}"):
        with conn.transaction():
            conn.execute(
                "UPDATE governance.access_applications SET status = 'approved', approval = %s, expires = %s, "
                "approved_by = %s, approved_at = now() WHERE application_id = %s",
                (approval.strip(), expires, by.strip(), app_id))
            sync_grants(conn, topology)
            record(conn, "grant_approve", unit=unit, application_id=app_id, by=by.strip(), dataset=dataset,
                   level=level, approval=approval.strip(), expires=expires.isoformat())
        return apply_now(conn, topology, unit, today)


def revoke(conn: psycopg.Connection, url: str, topology: Topology, app_id: int, *, by: str,
           today: dt.date | None = None) -> Applied:
    """Revoke a requested or approved application; an approved one stops at once."""
    unit, dataset, _, status = _application(conn, app_id)
    if status == "revoked":
        raise Refused(f"application #{app_id} is revoked already")
    if not by.strip():
        raise Refused("a revocation needs --by (who revokes)")
    ensure_access(conn)
    with PublishLock(url, wait=LOCK_WAIT_SECONDS, label=f"huiliu access revoke #{app_id}"):
        with conn.transaction():
            conn.execute("UPDATE governance.access_applications SET status = 'revoked', revoked_by = %s, "
                         "revoked_at = now() WHERE application_id = %s", (by.strip(), app_id))
            sync_grants(conn, topology)
            record(conn, "grant_revoke", unit=unit, application_id=app_id, by=by.strip(), dataset=dataset,
                   was=status)
        return apply_now(conn, topology, unit, today or county_today(conn)) if status == "approved" else (
            Applied((), ()))


def apply_now(conn: psycopg.Connection, topology: Topology, unit: str, today: dt.date) -> Applied:
    """Recreate `unit`'s views as the next publish would plan them, over what is published now (the
    caller holds the publish lock). Nothing happens to a unit that was never published."""
    if conn.execute("SELECT to_regnamespace(%s)", (unit,)).fetchone()[0] is None:
        return Applied((), ())
    plan = plan_layout(topology.with_grants(application_grants(conn)), today).unit(unit)
    wanted = {v.dataset: v for v in plan.views}
    sources = {v.source for v in plan.views} | {v.fallback_source for v in plan.views if v.fallback_source}
    published = shapes(conn, PUBLISHED_SCHEMA, sources)
    existing = {name: v for (schema, name), v in unit_views(conn).items() if schema == unit}
    changed, pending, stmts = [], [], []
    for name in sorted(set(existing) - set(wanted)):  # a grant gone: its view goes now, not at the next publish
        stmts.append(sql.SQL("DROP VIEW {}").format(ident(unit, name)))
        changed.append(name)
    for name, v in sorted(wanted.items()):
        if v.source not in published:
            pending.append(name)
            continue
        have = existing.get(name)
        if have is not None and have.sources == view_sources(v, published) and have.guarded == v.grant:
            continue
        shape = published[v.source]
        if have is not None:
            stmts.append(sql.SQL("DROP VIEW {}").format(ident(unit, name)))
        stmts.append(unit_view_sql(v, shape.names, with_fallback=falls_back(v, published)))
        stmts += comment_statements(ident(unit, name), shape, "VIEW",
                                    table_comment=view_comment(v, plan.name, shape, relation_label(name)))
        stmts.append(grant_view(unit, name))
        changed.append(name)
    if stmts:
        with conn.transaction():
            for s in stmts:
                conn.execute(s)
        audit_unit_schemas(conn, [unit])  # the audit role reads the new views too: their reads are logged
    return Applied(tuple(changed), tuple(pending))


def listing(conn: psycopg.Connection, topology: Topology, unit: str | None = None,
            today: dt.date | None = None) -> list[Listed]:
    """partitions.yaml's grants (the baseline) and every application, oldest first."""
    today = today or county_today(conn)
    out = [Listed("partitions.yaml", g.unit, g.dataset, g.level, "baseline", g.approval, g.expires,
                  g.active_on(today)) for g in topology.grants if unit in (None, g.unit)]
    rows = conn.execute(
        "SELECT application_id, unit, dataset, level, status, coalesce(approval, ''), expires "
        "FROM governance.access_applications WHERE %(unit)s::text IS NULL OR unit = %(unit)s "
        "ORDER BY application_id", {"unit": unit}).fetchall()
    out += [Listed(f"#{i}", u, d, lv, st, ap, ex, st == "approved" and ex is not None and ex >= today)
            for i, u, d, lv, st, ap, ex in rows]
    return out
