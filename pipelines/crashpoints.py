"""Test-only crash points: where the reliability tests kill (or pause) a run.

With HUILIU_CRASH_AT=<point> in its environment, a run that reaches that point writes the
point's name to the file HUILIU_CRASH_MARKER and waits there: to be killed (the test kills the
run's whole process group, dbt's children included, once it sees the marker, so it knows the
point was reached), or, when the test removes the marker, to go on — a pause, for tests that
make something happen at that moment (a re-delivery arriving mid-COPY). A process stops at a
point once. Without the variable a crash point costs one dictionary lookup.

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


_passed: set[str] = set()


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_AT) != name or name in _passed:
        return
    _passed.add(name)
    marker = Path(os.environ[CRASH_MARKER])
    marker.write_text(name, encoding="utf-8")
    while marker.exists():  # killed here, or resumed when the test removes the marker
        time.sleep(0.2)
