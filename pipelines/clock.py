"""The county's clock: its time zone, today's date there, and batch dates as Dagster partitions.

Batches are dated in the county's time (Asia/Shanghai), and so are grants and the
"today" a gate judges dates against: a server in another zone must not shift them a day.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg

from pipelines.topology import load_topology

TIMEZONE = "Asia/Shanghai"
COUNTY_TZ = ZoneInfo(TIMEZONE)


def today_in_county() -> dt.date:
    return dt.datetime.now(COUNTY_TZ).date()


def parse_date(text: str) -> dt.date:
    """A YYYY-MM-DD date, or ValueError naming what was given."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a YYYY-MM-DD date") from None


batch_dates = dg.DailyPartitionsDefinition(
    start_date=load_topology().first_batch_date.isoformat(),
    timezone=TIMEZONE,
    end_offset=1,  # today's batch may be (re)delivered early; let it be run
)
