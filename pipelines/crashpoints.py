"""Test-only crash points: where the reliability tests kill a run with SIGKILL.

With HUILIU_CRASH_AT=<point> in its environment, a run that reaches that point writes the
point's name to the file HUILIU_CRASH_MARKER and waits there to be killed (the test kills the
run's whole process group, dbt's children included, once it sees the marker, so it knows the
point was reached). Without the variable a crash point costs one dictionary lookup.

Points: `copy` (inside the COPY of a file, its transaction open), `dbt` (while the main dbt
build runs), `gates` (after the first gate of a publish), `before_switch`, `after_switch`
(the switch committed, its clean-up not yet done).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

CRASH_AT = "HUILIU_CRASH_AT"
CRASH_MARKER = "HUILIU_CRASH_MARKER"
POINTS = ("copy", "dbt", "gates", "before_switch", "after_switch")


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_AT) != name:
        return
    Path(os.environ[CRASH_MARKER]).write_text(name, encoding="utf-8")
    while True:  # to be killed here
        time.sleep(1)
