"""Macros generated from Python or the suites and committed: write them, or check they are current.

Jinja cannot import Python nor read the suites, so `contract.sql` and `value_quality.sql` are
generated and committed; `make lint` runs each generator with `--check`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipelines.tiers.dbt import DBT_DIR


def write_or_check(path: Path, text: str, argv: list[str], source: str, module: str) -> int:
    """`--check`: exit 1 when `path` differs from `text` (generated from `source`); else write it."""
    if "--check" in argv:
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            print(f"{path.relative_to(DBT_DIR.parent)} does not match {source}: run `python -m {module}`",
                  file=sys.stderr)
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0
