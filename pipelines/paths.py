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


def write_private(path: Path, text: str) -> None:
    """Write a secret readable by its owner only, with no moment at which others could read it.

    The file is created with mode 0600 (not chmod-ed after writing); an existing file is
    made 0600 before it is truncated and written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.chmod(0o600)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
