"""`huiliu run` you can follow: its steps live on a terminal, as plain timestamped lines elsewhere.

On a terminal, a rich display holds one line per step — ingest (files, the last one's rows and
rows/s), dbt models n/N, tier models n/N, gates, publish — redrawn in place. Without one (CI,
cron, a pipe, `CI` set) there are no escape codes: a line when a step starts and finishes, and at
most one progress line per step every PLAIN_EVERY seconds, so a night's log stays short and a
million-person run is never silent for minutes. dbt's and Dagster's own logs go to the run's log
file (`.huiliu/logs/<run_id>/run.log`), not to the terminal.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import TextIO

from pipelines.progress import Event

PLAIN_EVERY = 15.0  # seconds between two progress lines of one step
LABELS = {"ingest": "ingest", "dbt": "dbt models", "tiers": "tier models", "gates": "gates",
          "publish": "publish"}


def interactive(stream: TextIO) -> bool:
    """A terminal a person watches (not CI, not a pipe, not TERM=dumb)."""
    if os.environ.get("CI") or os.environ.get("TERM") == "dumb":
        return False
    return hasattr(stream, "isatty") and stream.isatty()


def _count(e: Event) -> str:
    if e.done is None:
        return ""
    return f"{e.done}/{e.total}" if e.total else f"{e.done}"


class PlainDisplay:
    """Timestamped lines: start, finish, and a progress line per step at most every PLAIN_EVERY s."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started: dict[str, float] = {}
        self.last_line: dict[str, float] = {}

    def _line(self, text: str) -> None:
        print(f"{dt.datetime.now():%H:%M:%S} {text}", file=self.stream, flush=True)

    def __call__(self, e: Event) -> None:
        label = LABELS.get(e.step, e.step)
        if e.kind == "start":
            self.started[e.step] = self.last_line[e.step] = e.at
            self._line(f"{label} …" + (f" {e.detail}" if e.detail else ""))
        elif e.kind in ("finish", "fail"):
            took = e.at - self.started.get(e.step, e.at)
            word = "failed" if e.kind == "fail" else "done"
            counted = f" {_count(e)}" if e.done else ""
            self._line(f"{label} {word}{counted} in {took:.1f} s" + (f" — {e.detail}" if e.detail else ""))
        elif e.at - self.last_line.get(e.step, 0.0) >= PLAIN_EVERY:
            self.last_line[e.step] = e.at
            self._line(f"{label} {_count(e)} {e.detail}".rstrip())

    def close(self) -> None:
        pass


class LiveDisplay:
    """rich's live display on the terminal: one task per step, redrawn in place, left on screen."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(SpinnerColumn(finished_text="✓"), TextColumn("{task.description:<12}"),
                                 BarColumn(bar_width=24), TextColumn("{task.fields[count]:>9}"),
                                 TimeElapsedColumn(), TextColumn("{task.fields[detail]}", style="dim"),
                                 console=Console(file=stream), refresh_per_second=8)
        self.tasks: dict[str, int] = {}
        self.progress.start()

    def __call__(self, e: Event) -> None:
        task = self.tasks.get(e.step)
        if task is None:
            task = self.tasks[e.step] = self.progress.add_task(LABELS.get(e.step, e.step), total=e.total,
                                                              count="", detail="")
        fields: dict = {"detail": (e.detail or "")[:70], "count": _count(e)}
        if e.kind in ("finish", "fail"):
            done = e.done or 0
            self.progress.update(task, total=max(done, 1), completed=max(done, 1), **fields)
            self.progress.stop_task(task)
            if e.kind == "fail":
                self.progress.update(task, description=f"{LABELS.get(e.step, e.step)} ✗")
        else:
            self.progress.update(task, total=e.total, completed=e.done or 0, **fields)

    def close(self) -> None:
        self.progress.stop()


def display_for(stream: TextIO) -> PlainDisplay | LiveDisplay:
    return LiveDisplay(stream) if interactive(stream) else PlainDisplay(stream)


