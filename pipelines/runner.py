"""Run one batch date through the Definitions in-process, as `huiliu run` does.

The same job the UI launches: nothing here re-implements a step, it only reads the
outcome back from governance.batch_files for the operator.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from pipelines.tables import markdown


@dataclass
class RunReport:
    batch_date: dt.date
    run_id: str | None = None
    rows: list[tuple] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)
    failure: str | None = None
    failure_details: list[str] = field(default_factory=list)
    audit: str | None = None  # whether reads of unit relations are audited on this server
    version: int | None = None  # what this run published (None: nothing)
    held: dict[str, dict] = field(default_factory=dict)  # dataset → cause and reason
    kept_by_quality: list = field(default_factory=list)  # gates.holds.KeptBy, one per expectation
    new_red_warnings: dict[str, int] | None = None  # rule → new red warnings this run published (counts only)

    @property
    def held_back(self) -> bool:
        """Published, but not everything: a file rejected or unlisted, a dataset held (exit 2)."""
        return bool(self.rejections or self.held)

    def render(self) -> str:
        head = f"huiliu run {self.batch_date.isoformat()}  run_id={self.run_id}"
        lines = [head]
        if not self.rows:
            lines.append("(no file of this date was received)")
        else:
            lines.append(markdown(["dataset", "rows received", "rows loaded", "rows kept aside",
                                   "files rejected"], self.rows))
        if self.kept_by_quality:
            lines.append("kept aside by value quality (governance.kept_aside_rows, reason quality:<name>):")
            for k in self.kept_by_quality:
                lines.append(f"  {k.dataset}: {k.expectation} ({k.column}): {k.rows} row(s)")
                lines += [f"    e.g. {e}" for e in k.examples]
        if self.version is not None:
            lines.append(f"published version_{self.version:06d}")
        for h in self.held.values():
            lines.append(f"held ({h['cause']}): {h['reason']}")
        if self.new_red_warnings is not None:
            red = ", ".join(f"{rule} {n}" for rule, n in self.new_red_warnings.items())
            lines.append(f"new red warnings (collision_warnings): {red}" if red else "no new red warnings")
        if self.audit:
            lines.append(self.audit)
        return "\n".join(lines)


ROWS_FOR_DATE = """
SELECT dataset,
       coalesce(sum(rows_received), 0),
       coalesce(sum(rows_loaded) FILTER (WHERE status = 'loaded'), 0),
       coalesce(sum(rows_kept_aside) FILTER (WHERE status = 'loaded'), 0),
       count(*) FILTER (WHERE status = 'rejected')
FROM governance.batch_files
WHERE batch_date = %s AND status IN ('loaded', 'rejected')
GROUP BY dataset ORDER BY dataset
"""

REJECTED_FOR_DATE = """
SELECT status || ': ' || source || '/' || batch_date || '/' || path || ': '
       || coalesce(reason || ': ' || coalesce(message, ''), 'the manifest does not name it (nothing loaded)')
FROM governance.batch_files
WHERE batch_date = %s AND status IN ('rejected', 'unlisted')
ORDER BY source, path
"""

PUBLISHED_BY_RUN = ("SELECT version, held FROM governance.publish_log WHERE run_id = %s "
                    "ORDER BY publish_id DESC LIMIT 1")



def _instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else (
        dg.DagsterInstance.ephemeral())


def run_batch_date(landing: Path, day: dt.date, log_level: str = "WARNING",
                   instance: dg.DagsterInstance | None = None, accept_drop: Sequence[str] = ()) -> RunReport:
    from pipelines.definitions import defs
    from pipelines.govern.audit import status as audit_status
    from pipelines.ingest.batches import complete_batches
    from pipelines.warehouse import connect

    report = RunReport(day)
    with connect() as conn:
        report.audit = audit_status(conn).why
    if not complete_batches(landing, day):
        report.failure = f"no complete batch (with manifest.json) for {day} under {landing}"
        return report
    result = defs.resolve_job_def("batch_job").execute_in_process(
        partition_key=day.isoformat(),
        run_config={
            "resources": {"landing": {"config": {"path": str(landing.resolve())}}},
            "loggers": {"console": {"config": {"log_level": log_level}}},
            "ops": {"publish_warehouse": {"config": {"accept_drop": list(accept_drop)}}},
        },
        instance=instance or _instance(),
        raise_on_error=False,
    )
    _read_outcome(report, result)
    if not result.success:
        _read_failure(report, result)
    return report


def rebuild(log_level: str = "WARNING", instance: dg.DagsterInstance | None = None) -> RunReport:
    """Everything after ingestion, from the raw history as it is: dbt, gates, publish (`rebuild_job`)."""
    from pipelines.definitions import defs
    from pipelines.govern.audit import status as audit_status
    from pipelines.warehouse import connect

    with connect() as conn:
        latest = conn.execute("SELECT max(batch_date) FROM governance.batch_files WHERE status = 'loaded'"
                              ).fetchone()[0] if conn.execute(
            "SELECT to_regclass('governance.batch_files')").fetchone()[0] else None
        report = RunReport(latest or dt.date.min, audit=audit_status(conn).why)
    if latest is None:
        report.failure = "nothing was ever loaded: there is nothing to rebuild"
        return report
    result = defs.resolve_job_def("rebuild_job").execute_in_process(
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        instance=instance or _instance(), raise_on_error=False)
    _read_outcome(report, result)
    if not result.success:
        _read_failure(report, result)
    return report


def _read_outcome(report: RunReport, result: dg.ExecuteInProcessResult) -> None:
    from pipelines.gates.holds import kept_by_expectation
    from pipelines.warehouse import connect

    report.run_id = result.run_id
    with connect() as conn:
        report.rows = conn.execute(ROWS_FOR_DATE, (report.batch_date,)).fetchall()
        report.rejections = [r[0] for r in conn.execute(REJECTED_FOR_DATE, (report.batch_date,)).fetchall()]
        if conn.execute("SELECT to_regclass('governance.publish_log')").fetchone()[0]:
            row = conn.execute(PUBLISHED_BY_RUN, (result.run_id,)).fetchone()
            if row:
                report.version, report.held = row[0], row[1] or {}
        if report.version is not None and not report.held:  # a held dataset holds the warnings too
            from pipelines.publish.warnings import counts

            with contextlib.suppress(Exception):  # a summary line, never a reason to fail the run
                report.new_red_warnings = counts(conn).new_red
        report.kept_by_quality = kept_by_expectation(conn)


def _read_failure(report: RunReport, result: dg.ExecuteInProcessResult) -> None:
    failed = [e for e in result.all_events if e.is_step_failure]
    detail = "; ".join(
        f"{e.step_key}: {_root_cause(e.step_failure_data.error)}"
        for e in failed if e.step_failure_data and e.step_failure_data.error
    )
    report.failure = f"run {result.run_id} failed: {detail or 'see the Dagster run log'}"
    report.failure_details = [text for e in failed for text in _failure_tables(e)]


def _failure_tables(event: dg.DagsterEvent) -> list[str]:
    """The failed checks a step reported in its Failure's metadata (masked, as the gates write it)."""
    from pipelines.publish.assets import FAILURES

    data = event.step_failure_data.user_failure_data if event.step_failure_data else None
    value = (data.metadata or {}).get(FAILURES) if data else None
    text = getattr(value, "value", None)
    return [f"{event.step_key}: {FAILURES}:\n{text}"] if isinstance(text, str) else []


def _root_cause(error: object) -> str:
    """The innermost error's first line: what went wrong, not where Dagster caught it."""
    while getattr(error, "cause", None) is not None:
        error = error.cause  # type: ignore[attr-defined]
    message = str(getattr(error, "message", error)).strip()
    return message.splitlines()[0] if message else "unknown error"
