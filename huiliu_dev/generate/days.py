"""Day numbers (days since 1970-01-01) and their text forms, vectorised.

Event days are plain integers so that "has it happened by D" is one comparison over a
whole chunk; text is produced only for the rows that are written.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import numpy as np

from huiliu_dev.generate.hashing import I64

EPOCH = dt.date(1970, 1, 1)
NEVER = 10**7  # a day number far beyond any batch date


def day_number(day: dt.date) -> int:
    return (day - EPOCH).days


def to_date(n: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(n))


def iso(days: I64) -> list[str]:
    """'YYYY-MM-DD' for each day number."""
    arr = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    return np.datetime_as_string(arr, unit="D").tolist()


def ymd(days: I64) -> tuple[I64, I64, I64]:
    arr = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    months = arr.astype("datetime64[M]")
    year = arr.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (arr - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def month_index(days: I64) -> I64:
    """Months since 1970-01 (so consecutive months are consecutive integers)."""
    arr = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    return arr.astype("datetime64[M]").astype(np.int64)


def month_first_day(month: int) -> int:
    return int(np.datetime64(month, "M").astype("datetime64[D]").astype(np.int64))


def month_last_day(month: int) -> int:
    return month_first_day(month + 1) - 1


def period_text(month: int) -> str:
    return str(np.datetime64(month, "M"))


@cache
def _clock() -> tuple[str, ...]:
    return tuple(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400))


def stamps(days: I64, seconds: I64) -> list[str]:
    """ISO 8601 timestamps with the +08:00 offset the platforms use."""
    clock = _clock()
    return [
        f"{d}T{clock[s]}+08:00"
        for d, s in zip(iso(days), np.asarray(seconds, dtype=np.int64).tolist(), strict=True)
    ]


def office_seconds(bits: np.ndarray) -> I64:
    """A time of day between 08:00 and 20:00, from hash bits."""
    return (8 * 3600 + (bits % np.uint64(12 * 3600))).astype(np.int64)
