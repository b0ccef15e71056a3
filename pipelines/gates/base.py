"""What every gate is: a function of a connection and a candidate version, returning results.

A gate judges a built, unpublished version through `Candidate`, a small read-only protocol
(publish's BuiltVersion is one): its schema, the shared relations it holds, their built
columns, rows per division code and rows per unit view. Gates import nothing from publish;
publish calls them and refuses the switch when one fails (GateFailed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg

from pipelines.naming import Source


class Divisions(Protocol):
    """What a layout or a candidate says of the county: its town and village codes."""

    @property
    def town_codes(self) -> Sequence[str]: ...

    @property
    def village_codes(self) -> Sequence[str]: ...


class Candidate(Divisions, Protocol):
    """A built version as a gate may read it; nothing here changes it."""

    @property
    def schema(self) -> str:
        """The schema holding the version's tables (version_NNNNNN, or a scratch copy)."""

    @property
    def sources(self) -> Sequence[Source]:
        """Every shared relation some unit reads, in name order."""

    def columns(self, source: Source) -> Sequence[str] | None:
        """The columns as built (None: not built)."""

    def rows(self, source: Source) -> Mapping[str | None, int]:
        """Rows per division code, counted once while building."""

    @property
    def held(self) -> Mapping[str, int]:
        """Datasets kept at their previous published state, with the rows copied from it."""

    def unit_rows(self, tier: str, dataset: str) -> Mapping[str, int]:
        """Unit schema → rows its view of `dataset` shows, for the units of `tier` that see it."""

    def routed_rows(self, dataset: str) -> Mapping[str, tuple[int, int]]:
        """For a relation read by rule (the warnings): unit schema → (rows its view shows, rows of
        the city's relation that its division and rules admit)."""


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    summary: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "summary": self.summary, "details": self.details}


Gate = Callable[[psycopg.Connection, Candidate], list[GateResult]]


class GateFailed(RuntimeError):
    """At least one gate failed: nothing was published."""

    def __init__(self, results: list[GateResult]) -> None:
        self.results = results
        failed = [r for r in results if not r.passed]
        super().__init__("publish refused, gate(s) failed: "
                         + "; ".join(f"{r.name}: {r.summary}" for r in failed))


def unit_division_codes(divisions: Divisions) -> list[str]:
    """The codes a publish lays out: every village, and every town's code + 000."""
    return sorted(set(divisions.village_codes) | {t + "000" for t in divisions.town_codes})
