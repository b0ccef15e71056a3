"""The landing sensor: a run when a batch's manifest appears."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from pipelines.ingest.deliveries import already_run, deliveries, run_request
from pipelines.resources import DEFAULT_LANDING

CURSOR_LIMIT = 2000  # deliveries remembered in the cursor (about a year of two sources)


def landing_root() -> Path:
    return Path(os.environ.get("HUILIU_LANDING", DEFAULT_LANDING))


def build_landing_sensor(job: dg.UnresolvedAssetJobDefinition | dg.JobDefinition
                         ) -> dg.SensorDefinition:
    @dg.sensor(job=job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
               description="Starts one run per delivery when a batch's manifest.json appears.")
    def landing_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        seen: list[str] = json.loads(context.cursor) if context.cursor else []
        known = set(seen)
        requests = []
        landing = landing_root()
        for delivery in deliveries(landing):
            if delivery.sha256 in known:
                continue
            known.add(delivery.sha256)
            seen.append(delivery.sha256)
            if not already_run(context.instance, delivery):  # the schedule may have run it
                requests.append(run_request(delivery, landing))
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(seen[-CURSOR_LIMIT:]))

    return landing_sensor
