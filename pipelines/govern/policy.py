"""The column policy the gates judge against: class, grade and action per audience.

Both gates read the same policy: the lineage proof asks "may this source column reach this
audience unmasked?", the expectation suites ask "which columns of this relation are
masked, and with which shape?". The truth is `governance.column_catalog` (seeds plus content
detection, built by dbt); `Policy.from_seeds` recomputes it from the dbt seeds alone (no
detection) so the proof can run without a database.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from pipelines.topology import PROJECT_ROOT

SEEDS = PROJECT_ROOT / "dbt_project" / "seeds"
CATALOG_AUDIENCES = ("city", "owner", "granted", "town", "village")
AUDIENCES = ("city", "owner", "granted", "clear_names", "town", "village")
ACTIONS = ("keep", "generalize", "mask", "token", "drop")
# A grant at level clear_names shows these classes in clear (mirrors catalog_rows in
# dbt_project/macros/governance.sql); every other column follows the granted policy.
CLEAR_NAMES_KEEP = frozenset({"person_name", "phone"})
# The division code splits a tier into units: every audience keeps it (as the macro does).
ALWAYS_KEPT = frozenset({"division_code"})


@dataclass(frozen=True)
class ColumnPolicy:
    dataset: str
    column: str
    klass: str
    grade: int
    actions: Mapping[str, str] = field(default_factory=dict)  # audience → action, clear_names included


def _with_clear_names(column: str, klass: str, actions: Mapping[str, str]) -> dict[str, str]:
    out = dict(actions)
    out["clear_names"] = "keep" if klass in CLEAR_NAMES_KEEP else out.get("granted", "drop")
    if column in ALWAYS_KEPT:
        out = dict.fromkeys(AUDIENCES, "keep")
    return out


class Policy:
    """Grades and actions by (dataset, column); unknown columns have no grade."""

    def __init__(self, columns: Iterable[ColumnPolicy]) -> None:
        self.columns: dict[tuple[str, str], ColumnPolicy] = {(c.dataset, c.column): c for c in columns}

    def get(self, dataset: str, column: str) -> ColumnPolicy | None:
        return self.columns.get((dataset, column))

    def grade(self, dataset: str, column: str) -> int | None:
        c = self.get(dataset, column)
        return c.grade if c else None

    def action(self, audience: str, dataset: str, column: str) -> str | None:
        c = self.get(dataset, column)
        return c.actions.get(audience) if c else None

    def klass(self, dataset: str, column: str) -> str | None:
        c = self.get(dataset, column)
        return c.klass if c else None

    @classmethod
    def from_rows(cls, rows: Iterable[tuple]) -> Policy:
        """Rows of (dataset, column, class, grade, action_city, …, action_village)."""
        out = []
        for dataset, column, klass, grade, *actions in rows:
            acts = dict(zip(CATALOG_AUDIENCES, actions, strict=True))
            out.append(ColumnPolicy(dataset, column, klass, int(grade), _with_clear_names(column, klass, acts)))
        return cls(out)

    @classmethod
    def from_catalog(cls, conn: psycopg.Connection) -> Policy:
        """governance.column_catalog as dbt built it for this run (detection included)."""
        rows = conn.execute(
            "SELECT dataset, column_name, class, grade, " + ", ".join(f"action_{a}" for a in CATALOG_AUDIENCES)
            + " FROM governance.column_catalog").fetchall()
        return cls.from_rows(rows)

    @classmethod
    def from_seeds(cls, seeds: Path = SEEDS) -> Policy:
        """The catalog recomputed from the seeds as models/governance/column_catalog.sql does,
        without content detection (which needs the data)."""

        def read(name: str) -> list[dict[str, str]]:
            with open(seeds / f"{name}.csv", encoding="utf-8", newline="") as f:
                return list(csv.DictReader(f))

        classes = {r["class"]: r for r in read("class_policy")}
        defaults = {int(r["grade"]): r for r in read("grade_actions")}
        overrides = {(r["dataset"], r["column_name"]): int(r["grade"]) for r in read("grade_overrides")}
        rows = []
        for c in read("column_classes"):
            p = classes[c["class"]]
            override = overrides.get((c["dataset"], c["column_name"]), 0)
            declared = max(int(c["contract_grade"]), int(p["grade"]), override)
            actions = [p[f"action_{a}"] or defaults[declared][f"action_{a}"] for a in CATALOG_AUDIENCES]
            rows.append((c["dataset"], c["column_name"], c["class"], declared, *actions))
        return cls.from_rows(rows)
