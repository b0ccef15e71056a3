"""`--units K`: the county with K times its towns and villages, for the units target (×10 ≤ 1.3× time).

Each town of the county's real division list (../shared/data/shengzhou_divisions.csv, or the one
given) is repeated K times under new codes, its villages with it, and `huiliu topology
from-divisions` turns the list into a partitions.yaml (departments and sources from the project's).
Unit roles are cluster-wide, so the run goes to a local server of its own (HUILIU_STATE_DIR):
the project's server keeps its county's roles only.
"""

from __future__ import annotations

import csv
from pathlib import Path

from pipelines.divisions import from_divisions
from pipelines.paths import PROJECT_ROOT

DIVISIONS = PROJECT_ROOT.parent / "shared" / "data" / "shengzhou_divisions.csv"


def multiplied(source: Path, out: Path, county: str, k: int) -> Path:
    """The list with each town repeated k times (codes county + 3 digits from 100, villages keep theirs)."""
    with source.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    towns = [r for r in rows if r["level"] == "town"]
    if len(towns) * k > 899:
        raise SystemExit(f"--units {k}: {len(towns) * k} towns do not fit 3-digit town codes")
    lines = ["code,name,level,parent_code"]
    for i, town in enumerate(towns):
        for copy in range(k):
            code = f"{county}{100 + i * k + copy:03d}"
            suffix = "" if copy == 0 else f"{copy + 1}"
            lines.append(f"{code},{town['name']}{suffix},town,{county}")
            lines += [f"{code}{v['code'][-3:]},{v['name']}{suffix},village,{code}"
                      for v in rows if v["level"] == "village" and v["parent_code"] == town["code"]]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def partitions_for(k: int, directory: Path, county: str = "330683", name: str = "嵊州市") -> Path:
    """partitions.yaml of the county ×k, written under `directory`."""
    listing = multiplied(DIVISIONS, directory / "divisions.csv", county, k)
    path = directory / "partitions.yaml"
    path.write_text(from_divisions(listing, county, name), encoding="utf-8")
    return path
