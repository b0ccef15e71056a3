"""The landing sensor and the nightly schedule, with Dagster's testing helpers."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import pytest
from support.batchkit import csv_bytes, write_batch

from pipelines.contract import DATASETS
from pipelines.definitions import batch_job
from pipelines.ingest.deliveries import DELIVERY_TAG
from pipelines.ingest.schedules import build_nightly_schedule
from pipelines.ingest.sensors import build_landing_sensor

HR = list(DATASETS["household_registration"].column_names)
SENSOR = build_landing_sensor(batch_job)
SCHEDULE = build_nightly_schedule(batch_job)


@pytest.fixture
def landing(tmp_path, monkeypatch):
    monkeypatch.setenv("HUILIU_LANDING", str(tmp_path))
    return tmp_path


def _deliver(landing, day: str, version: int = 1) -> None:
    write_batch(landing, "province", day,
                {"household_registration": csv_bytes(HR, [["x"] * len(HR)] * version)})


def _evaluate(instance, cursor=None) -> dg.SensorResult:
    return SENSOR(dg.build_sensor_context(instance=instance, cursor=cursor))


def test_sensor_one_run_per_delivery_and_a_new_run_for_a_redelivery(landing):
    with dg.instance_for_test() as instance:
        (landing / "city" / "2026-11-02").mkdir(parents=True)  # still arriving: no manifest
        assert _evaluate(instance).run_requests == []
        _deliver(landing, "2026-11-02")
        first = _evaluate(instance)
        assert [r.partition_key for r in first.run_requests] == ["2026-11-02"]
        again = _evaluate(instance, first.cursor)
        assert again.run_requests == []  # the same delivery never starts a second run
        _deliver(landing, "2026-11-02", version=2)  # a corrected re-send: a new manifest
        redelivered = _evaluate(instance, again.cursor)
        assert len(redelivered.run_requests) == 1
        assert (redelivered.run_requests[0].tags[DELIVERY_TAG]
                != first.run_requests[0].tags[DELIVERY_TAG])
        assert len(json.loads(redelivered.cursor)) == 2


def _record_run(instance, request: dg.RunRequest) -> None:
    instance.create_run_for_job(batch_job.resolve(asset_graph=_graph()), tags=request.tags)


def _graph():
    from pipelines.definitions import defs

    return defs.resolve_asset_graph()


def test_schedule_runs_yesterdays_batches_unless_the_sensor_did(landing):
    when = dt.datetime(2026, 11, 3, 2, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    with dg.instance_for_test() as instance:
        _deliver(landing, "2026-11-02")
        _deliver(landing, "2026-11-01")  # not yesterday: not the nightly's business
        requests = SCHEDULE(dg.build_schedule_context(instance=instance,
                                                      scheduled_execution_time=when))
        assert [r.partition_key for r in requests] == ["2026-11-02"]
        sensed = _evaluate(instance).run_requests
        for request in sensed:
            _record_run(instance, request)
        skipped = SCHEDULE(dg.build_schedule_context(instance=instance,
                                                     scheduled_execution_time=when))
        assert isinstance(skipped, dg.SkipReason)  # no duplicate run for one delivery
        # and the sensor does not repeat what a run (of either) already covers
        assert _evaluate(instance).run_requests == []
