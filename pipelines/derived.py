"""The relations huiliu publishes beside the seven datasets: ledgers, topic libraries and warnings.

A derived relation is built from the datasets' current state (dbt's models/ledgers and
models/topics, then one tier model per audience) and published through the same tiers,
policies and gates. Each has a base dataset: a department sees the relation when it owns or is
granted that dataset, at the same level, and its columns there are only those of the datasets
that access covers (`department_sees`) — owning household data gives a department the
person ledger, not the disability or death details other departments own. Warnings
(`collision_warnings`) reach a department by a rule's route instead (screenings/*.yaml): the
route is the access, so its columns follow the granted policy whatever the department owns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pipelines.contract import DATASETS

Kind = Literal["ledger", "topic", "warnings"]
DepartmentAccess = Literal["owner_and_granted", "owner", "none"]


@dataclass(frozen=True)
class Derived:
    name: str
    label: str
    kind: Kind
    base: str  # the dataset whose access gives a department this relation
    reads: tuple[str, ...]  # every dataset it is computed from: held if any of them is held

    def department_sees(self, dataset: str | None) -> DepartmentAccess:
        """Which department audiences see what this relation takes from `dataset` (None: its own)."""
        if dataset is None or dataset == self.base or self.kind == "warnings":
            return "owner_and_granted"
        if DATASETS[dataset].owner == DATASETS[self.base].owner:
            return "owner"  # the department owns both datasets
        return "none"


_PERSON_READS = ("household_registration", "floating_population", "death_records", "disability_certificates",
                 "elderly_subsidy", "social_insurance")
DERIVED: dict[str, Derived] = {d.name: d for d in (
    Derived("person_ledger", "一人一档", "ledger", "household_registration", _PERSON_READS),
    Derived("enterprise_ledger", "一企一档", "ledger", "enterprise_registry",
            ("enterprise_registry", "death_records", "floating_population")),
    Derived("population_profile", "人口专题库", "topic", "household_registration", _PERSON_READS),
    Derived("enterprise_profile", "企业专题库", "topic", "enterprise_registry", ("enterprise_registry",)),
    Derived("collision_warnings", "筛查与碰撞预警", "warnings", "household_registration", tuple(DATASETS)),
)}
LEDGERS = tuple(n for n, d in DERIVED.items() if d.kind == "ledger")
TOPICS = tuple(n for n, d in DERIVED.items() if d.kind == "topic")
WARNINGS = "collision_warnings"  # routed by rule (screenings/*.yaml), not by a department's access
RELATIONS = (*DATASETS, *DERIVED)  # everything a unit schema may hold, datasets first


def relation_label(name: str) -> str:
    """The Chinese label of a dataset or a derived relation."""
    return DATASETS[name].label if name in DATASETS else DERIVED[name].label


def held_with(held: set[str] | frozenset[str]) -> set[str]:
    """The derived relations that must keep their previous state while `held` datasets do."""
    return {n for n, d in DERIVED.items() if held & set(d.reads)}
