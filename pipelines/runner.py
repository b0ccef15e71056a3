"""Run one batch date through the Definitions in-process, as `huiliu run` does.

The same job the UI launches: nothing here re-implements a step, it only reads the
outcome back from governance for the operator (run_report.py). The run id is chosen here, so
the run's log directory and gate report can be named before the run starts.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

import dagster as dg

from pipelines.run_report import RunReport, read_outcome
from pipelines.tables import table_markdown


def _instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else (
        dg.DagsterInstance.ephemeral())


def new_run_id() -> str:
    return str(uuid.uuid4())


def run_batch_date(landing: Path, day: dt.date, log_level: str = "WARNING",
                   instance: dg.DagsterInstance | None = None, accept_drop: Sequence[str] = (),
                   run_id: str | None = None) -> RunReport:
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
        run_id=run_id or new_run_id(),
    )
    _read_outcome(report, result)
    if not result.success:
        _read_failure(report, result)
    return report


def rebuild(log_level: str = "WARNING", instance: dg.DagsterInstance | None = None,
            run_id: str | None = None) -> RunReport:
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
        instance=instance or _instance(), raise_on_error=False, run_id=run_id or new_run_id())
    _read_outcome(report, result)
    if not result.success:
        _read_failure(report, result)
    return report


def _read_outcome(report: RunReport, result: dg.ExecuteInProcessResult) -> None:
    from pipelines.gates.report import report_path
    from pipelines.warehouse import connect

    report.run_id = result.run_id
    report.gate_report = report_path(result.run_id)
    with connect() as conn:
        read_outcome(conn, report)


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
    if not isinstance(value, dg.TableMetadataValue):
        return []
    return [f"{event.step_key}: {FAILURES}:\n{table_markdown(value)}"]


def _root_cause(error: object) -> str:
    """The innermost error's first line: what went wrong, not where Dagster caught it."""
    while getattr(error, "cause", None) is not None:
        error = error.cause  # type: ignore[attr-defined]
    message = str(getattr(error, "message", error)).strip()
    return message.splitlines()[0] if message else "unknown error"
