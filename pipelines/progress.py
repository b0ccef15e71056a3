"""What a run is doing now, for a display to follow: steps that start, advance and finish.

Steps deep in the pipeline (ingest per file, dbt per model, the gates, the publish) report here;
nothing listens unless a display subscribes (`huiliu run`, pipelines/follow.py), so the Dagster
UI's runs and the tests pay a function call. Events carry step names, relation and file names and
counts — never a value of the data. A listener that fails is dropped: a display never fails a run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["start", "advance", "finish", "fail"]


@dataclass(frozen=True)
class Event:
    step: str  # ingest | dbt | tiers | gates | publish
    kind: Kind
    detail: str = ""  # e.g. "province/household_registration: 771 rows (5,200 rows/s)"
    done: int | None = None
    total: int | None = None
    at: float = field(default_factory=time.monotonic)


_listeners: list[Callable[[Event], None]] = []
_lock = threading.Lock()


def emit(step: str, kind: Kind = "advance", detail: str = "", done: int | None = None,
         total: int | None = None) -> None:
    event = Event(step, kind, detail, done, total)
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(event)
        except Exception:  # noqa: BLE001 - a display's fault is never the run's
            with _lock:
                if listener in _listeners:
                    _listeners.remove(listener)


@contextmanager
def listening(listener: Callable[[Event], None]) -> Iterator[None]:
    with _lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)


@contextmanager
def step(name: str, total: int | None = None, detail: str = "") -> Iterator[Callable[..., None]]:
    """`with step("dbt", total=87) as advance: … advance("stg_x")`: start, advances, finish (or fail)."""
    done = 0

    def advance(what: str = "", n: int = 1) -> None:
        nonlocal done
        done += n
        emit(name, "advance", what, done, total)

    emit(name, "start", detail, 0, total)
    try:
        yield advance
    except BaseException:
        emit(name, "fail", detail, done, total)
        raise
    emit(name, "finish", detail, done, total)
