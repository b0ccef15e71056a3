"""The column policy the gates judge against: class, grade and action per audience.

Both gates read the same policy: the lineage proof asks "may this source column reach this
audience unmasked?", the expectation suites ask "which columns of this relation are
masked, and with which shape?". The truth is `governance.column_catalog` as dbt built it
for this run (seeds plus content detection, and the rules for clear_names grants and the
division code): this module reads it, it never recomputes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import psycopg

from pipelines.naming import AUDIENCES

ACTIONS = ("keep", "generalize", "mask", "token", "drop")


@dataclass(frozen=True)
class ColumnPolicy:
    dataset: str
    column: str
    klass: str
    grade: int
    actions: Mapping[str, str] = field(default_factory=dict)  # audience → action, clear_names included
    detected: str | None = None  # what content detection found inside its values, if anything

    @property
    def sensitive_class(self) -> str:
        """What makes it sensitive: the class found inside its values, else its declared class."""
        return self.detected or self.klass


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

    def sensitive_class(self, dataset: str, column: str) -> str | None:
        c = self.get(dataset, column)
        return c.sensitive_class if c else None

    @classmethod
    def from_rows(cls, rows: Iterable[tuple]) -> Policy:
        """Rows of (dataset, column, class, grade, one action per audience in AUDIENCES order)."""
        return cls(ColumnPolicy(dataset, column, klass, int(grade), dict(zip(AUDIENCES, actions, strict=True)))
                   for dataset, column, klass, grade, *actions in rows)

    @classmethod
    def from_catalog(cls, conn: psycopg.Connection) -> Policy:
        """governance.column_catalog as dbt built it for this run (detection included)."""
        rows = conn.execute(
            "SELECT dataset, column_name, class, grade, detected_class, "
            + ", ".join(f"action_{a}" for a in AUDIENCES) + " FROM governance.column_catalog").fetchall()
        return cls(ColumnPolicy(dataset, column, klass, int(grade), dict(zip(AUDIENCES, actions, strict=True)),
                                detected) for dataset, column, klass, grade, detected, *actions in rows)
