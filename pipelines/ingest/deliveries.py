"""Deliveries waiting in the landing directory, as the sensor and the schedule see them.

A delivery is one manifest.json as received (its sha256, as batches.md says): one run per
delivery overall, whether the sensor or the nightly schedule starts it; a re-delivery of the
same batch (a new manifest) is a new delivery and a new run; a batch without its manifest
is still arriving and starts nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from pipelines.contract import SOURCES
from pipelines.ingest.manifest import MANIFEST

DELIVERY_TAG = "huiliu/delivery"
SOURCE_TAG = "huiliu/source"


@dataclass(frozen=True)
class Delivery:
    source: str
    batch_date: dt.date
    sha256: str

    @property
    def partition_key(self) -> str:
        return self.batch_date.isoformat()


def deliveries(landing: Path, day: dt.date | None = None) -> list[Delivery]:
    """Every complete batch under `landing` (of `day` only, when given)."""
    found = []
    for source in SOURCES:
        root = landing / source
        if not root.is_dir():
            continue
        for directory in sorted(root.iterdir()):
            try:
                batch_date = dt.date.fromisoformat(directory.name)
            except ValueError:
                continue  # not a batch directory
            manifest = directory / MANIFEST
            if (day is None or batch_date == day) and manifest.is_file():
                digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
                found.append(Delivery(source, batch_date, digest))
    return found


def already_run(instance: dg.DagsterInstance, delivery: Delivery) -> bool:
    """Has any run (sensor's, schedule's, or a backfill's) been started for this delivery?"""
    records = instance.get_run_records(
        filters=dg.RunsFilter(tags={DELIVERY_TAG: delivery.sha256}), limit=1)
    return bool(records)


def run_request(delivery: Delivery, landing: Path) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=delivery.sha256,
        partition_key=delivery.partition_key,
        run_config={"resources": {"landing": {"config": {"path": str(landing)}}}},
        tags={DELIVERY_TAG: delivery.sha256, SOURCE_TAG: delivery.source},
    )
