"""The column policy recomputed from the dbt seeds alone, as an independent oracle.

models/governance/column_catalog.sql is the one implementation the pipeline runs; this is a
second one, in Python and without content detection (which needs data), so the lineage
proof can be tried on fixtures without a database and a test can check that the catalog's
defaults are what the seeds say.
"""

from __future__ import annotations

import csv

from pipelines.govern.policy import Policy
from pipelines.naming import AUDIENCES
from pipelines.paths import PROJECT_ROOT

SEEDS = PROJECT_ROOT / "dbt_project" / "seeds"


def _read(name: str) -> list[dict[str, str]]:
    with open(SEEDS / f"{name}.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def policy_from_seeds() -> Policy:
    classes = {r["class"]: r for r in _read("class_policy")}
    defaults = {int(r["grade"]): r for r in _read("grade_actions")}
    overrides = {(r["dataset"], r["column_name"]): int(r["grade"]) for r in _read("grade_overrides")}
    rows = []
    for c in _read("column_classes"):
        p = classes[c["class"]]
        override = overrides.get((c["dataset"], c["column_name"]), 0)
        declared = max(int(c["contract_grade"]), int(p["grade"]), override)
        actions = {}
        for a in AUDIENCES:
            if a == "clear_names":
                continue
            actions[a] = p[f"action_{a}"] or defaults[declared][f"action_{a}"]
        actions["clear_names"] = p["action_clear_names"] or actions["granted"]
        if c["column_name"] == "division_code":
            actions = dict.fromkeys(AUDIENCES, "keep")
        rows.append((c["dataset"], c["column_name"], c["class"], declared, *(actions[a] for a in AUDIENCES)))
    return Policy.from_rows(rows)
