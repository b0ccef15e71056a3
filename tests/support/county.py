"""A county-size published warehouse for the security tests: 100,000 people, the real Definitions."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from huiliu_dev.generate import generate
from pipelines.runner import RunReport, run_batch_date

DAY = dt.date(2026, 11, 1)
PEOPLE = int(os.environ.get("HUILIU_SECURITY_PEOPLE", "100000"))  # smaller only to try a test quickly


@dataclass
class Published:
    url: str
    landing: Path
    report: RunReport
    instance: dg.DagsterInstance

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=True)


def publish_county(url: str, landing: Path) -> Published:
    """Generate PEOPLE people for DAY under `landing` and run them through `huiliu run`'s job."""
    generate(landing, DAY, people=PEOPLE, seed=12)
    instance = dg.DagsterInstance.ephemeral()
    with pytest.MonkeyPatch.context() as mp:  # the session's database again once it has run
        mp.setenv("HUILIU_DATABASE_URL", url)
        report = run_batch_date(landing, DAY, log_level="ERROR", instance=instance)
    assert report.failure is None, report.failure
    return Published(url, landing, report, instance)
