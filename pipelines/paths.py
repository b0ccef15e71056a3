"""Where huiliu keeps things: the project's root and its git-ignored state directory.

The state directory (HUILIU_STATE_DIR, default `.huiliu/` in the clone) holds what a run
leaves on this machine: the local PostgreSQL, the demo's token key, gate reports, the
Dagster home of `make ui`. Nothing in it is committed.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = Path(os.environ.get("HUILIU_STATE_DIR", PROJECT_ROOT / ".huiliu"))
