"""The warnings' life after a publish: the state the next batch date is judged against, and sign-offs.

prot_collision_warnings judges each warning (new / open / resolved) against the state as of the
last *published* batch date before its own, so the state advances only here, after a switch
that published the warnings — a failed gate, a held dataset or a crash before the switch leave
it where it was, and a re-run of the same date is judged exactly as the first. `acknowledge` is
`huiliu ack`: a unit the warning is routed to signs it off with the evidence it saw; the next
build leaves it out of every tier while that evidence stands (governance.collision_acknowledgements).
"""

from __future__ import annotations

import datetime as dt
import getpass
from dataclasses import dataclass

import dagster as dg
import psycopg
from psycopg import sql

from pipelines.clock import today_in_county
from pipelines.derived import WARNINGS
from pipelines.publish.layout import plan_layout
from pipelines.topology import Topology

STATE = sql.Identifier("protected", "warning_state")
WARNINGS_MODEL = sql.Identifier("protected", "prot_collision_warnings")
STATE_COLUMNS = ("as_of", "warning_id", "rule", "title", "kind", "severity", "ledger", "subject_key",
                 "subject_token", "division_code", "person_name", "id_number", "enterprise_name", "uscc",
                 "birth_date", "evidence", "evidence_hash", "first_seen", "last_seen", "resolved_on", "status")


# The two tables the warnings' builds read and do not write (macros/screenings.sql creates them): the
# state this module writes after each switch, and the sign-offs `huiliu ack` records.
SOURCE_SPECS = [
    dg.AssetSpec(dg.AssetKey(["screenings", "warning_state"]), group_name="screenings", kinds={"postgres"},
                 owners=["team:data-engineering"],
                 description="protected.warning_state: every warning as of the last two published batch dates, "
                 "written after each switch; prot_collision_warnings judges new / open / resolved against it."),
    dg.AssetSpec(dg.AssetKey(["governance", "collision_acknowledgements"]), group_name="screenings",
                 kinds={"postgres"}, owners=["team:data-engineering"],
                 description="预警签收 (`huiliu ack`): a unit's sign-off with the evidence it saw; the warning "
                 "leaves the tiers while that evidence stands."),
]


class AckError(ValueError):
    """`huiliu ack` refused: an unknown warning, or a unit it is not routed to."""


@dataclass(frozen=True)
class WarningCounts:
    as_of: dt.date | None
    new_red: dict[str, int]  # rule → new red warnings (not acknowledged) on this batch date


def _exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]


def commit_state(conn: psycopg.Connection) -> WarningCounts | None:
    """After the switch published the warnings: their rows become the state as of their batch date,
    and only that date and the one before it are kept (what a re-run of either needs)."""
    if not _exists(conn, "protected.prot_collision_warnings") or not _exists(conn, "protected.warning_state"):
        return None
    cols = sql.SQL(", ").join(map(sql.Identifier, STATE_COLUMNS))
    with conn.transaction():
        as_of = conn.execute(sql.SQL("SELECT max(as_of) FROM {}").format(WARNINGS_MODEL)).fetchone()[0]
        if as_of is None:
            return WarningCounts(None, {})
        conn.execute(sql.SQL("DELETE FROM {} WHERE as_of = %s").format(STATE), (as_of,))
        conn.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(STATE, cols, cols, WARNINGS_MODEL))
        conn.execute(sql.SQL("DELETE FROM {} WHERE as_of < (SELECT max(as_of) FROM {} WHERE as_of < %s)"
                             ).format(STATE, STATE), (as_of,))
    return counts(conn)


def counts(conn: psycopg.Connection) -> WarningCounts:
    """Counts only, never a subject: new red warnings per rule (the run summary's line)."""
    as_of = conn.execute(sql.SQL("SELECT max(as_of) FROM {}").format(WARNINGS_MODEL)).fetchone()[0]
    new_red = dict(conn.execute(sql.SQL(
        "SELECT rule, count(*) FROM {} WHERE status = 'new' AND severity = 'red' AND NOT acknowledged "
        "GROUP BY 1 ORDER BY 1").format(WARNINGS_MODEL)).fetchall())
    return WarningCounts(as_of, new_red)


def acknowledge(conn: psycopg.Connection, topology: Topology, warning_id: str, unit: str, by: str,
                note: str | None = None, day: dt.date | None = None) -> dict[str, object]:
    """Record that `unit` signed off `warning_id` as published; refused unless it is routed there."""
    if not by.strip():
        raise AckError("--by must name who acknowledges the warning")
    if not _exists(conn, "protected.warning_state"):
        raise AckError(f"unknown warning {warning_id!r}: no warnings have been published yet")
    row = conn.execute(sql.SQL(
        "SELECT rule, division_code, evidence_hash, status FROM {} "
        "WHERE as_of = (SELECT max(as_of) FROM {}) AND warning_id = %s").format(STATE, STATE),
        (warning_id,)).fetchone()
    if row is None:
        raise AckError(f"unknown warning {warning_id!r}: not among the warnings of the last publish")
    rule, division_code, evidence_hash, status = row
    layout = plan_layout(topology, day or today_in_county())
    units = {u.schema: u for u in layout.units}
    if unit not in units:
        raise AckError(f"unknown unit {unit!r}: not a schema of partitions.yaml")
    views = [v for v in units[unit].views if v.dataset == WARNINGS]
    if not views or not views[0].filter.admits(division_code, rule):
        raise AckError(f"warning {warning_id} ({rule}) is not routed to {unit}")
    with conn.transaction():
        ack_id = conn.execute(
            "INSERT INTO governance.collision_acknowledgements "
            "(warning_id, rule, unit, acknowledged_by, os_user, note, evidence_hash) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING ack_id",
            (warning_id, rule, unit, by.strip(), getpass.getuser(), note, evidence_hash)).fetchone()[0]
    return {"ack_id": ack_id, "warning_id": warning_id, "rule": rule, "unit": unit, "status": status}
