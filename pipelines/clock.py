"""Batch dates as Dagster partitions, starting at the county's first batch."""

from __future__ import annotations

import dagster as dg

from pipelines.topology import load_topology

TIMEZONE = "Asia/Shanghai"

batch_dates = dg.DailyPartitionsDefinition(
    start_date=load_topology().first_batch_date.isoformat(),
    timezone=TIMEZONE,
    end_offset=1,  # today's batch may be (re)delivered early; let it be run
)
