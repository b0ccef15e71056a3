"""The nightly sync: at 02:30 Asia/Shanghai, the previous day's batches of both sources,
unless the landing sensor already started their runs."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from pipelines.clock import TIMEZONE
from pipelines.ingest.deliveries import already_run, deliveries, run_request
from pipelines.ingest.sensors import landing_root


def build_nightly_schedule(job: dg.UnresolvedAssetJobDefinition | dg.JobDefinition
                           ) -> dg.ScheduleDefinition:
    @dg.schedule(job=job, cron_schedule="30 2 * * *", execution_timezone=TIMEZONE,
                 default_status=dg.DefaultScheduleStatus.RUNNING,
                 description="Nightly sync of yesterday's province and city batches.")
    def nightly_sync(context: dg.ScheduleEvaluationContext):
        yesterday = context.scheduled_execution_time.date() - dt.timedelta(days=1)
        landing = landing_root()
        pending = [d for d in deliveries(landing, yesterday)
                   if not already_run(context.instance, d)]
        if not pending:
            return dg.SkipReason(f"every delivery of {yesterday} already has a run")
        return [run_request(d, landing) for d in pending]

    return nightly_sync
