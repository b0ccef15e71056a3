"""The lineage proof: no sensitive source column reaches a tier unmasked, proven on compiled SQL.

Column-level lineage with sqlglot over the compiled SQL of every dbt model that feeds a
`tiers.<audience>__<dataset>` relation: each output column is traced back through CTEs,
derived tables, every side of a UNION and every value of a CASE or COALESCE, and through
upstream models (protected.prot_*, intermediate.int_*__current, staging.stg_*) to the source
columns (raw.*), by the tracer (trace.py). A flow is protected once it passes a function
approved for the source column's class (mask_free_text does not protect a name); an
unprotected flow from a source column of grade ≥ 3 is a leak unless the audience's action
for that column is keep. References the tracer cannot resolve fail closed (a keyed token
excepted: it protects any value).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pipelines.gates.lineage.trace import TIER_SCHEMA, UNRESOLVED, Flow, Hop, Tracer, model_key, protects
from pipelines.govern.policy import Policy
from pipelines.naming import Source

SENSITIVE_GRADE = 3

# The dataset a model of the graph holds, by its schema and name (dbt's naming of each layer).
_DATASET_OF = (
    re.compile(r"^raw\.([a-z0-9_]+)$"),
    re.compile(r"^staging\.stg_([a-z0-9_]+)$"),
    re.compile(r"^intermediate\.int_([a-z0-9_]+?)__[a-z0-9_]+$"),
    re.compile(r"^protected\.prot_([a-z0-9_]+)$"),
)


@dataclass(frozen=True)
class Leak:
    """A sensitive source column that reaches a tier relation without an approved function."""

    relation: str  # tiers.<audience>__<dataset>
    column: str
    audience: str
    source: str  # raw.<table>.<column>, or "?" when unresolved
    grade: int | None
    action: str | None
    path: tuple[str, ...]  # relation.column ← … ← source (CTE hops where a rename happens)
    problem: str | None = None
    through: tuple[str, ...] = ()  # approved functions on the path that do not protect its class
    klass: str | None = None

    def describe(self) -> str:
        chain = " ← ".join(self.path)
        if self.problem:
            return f"{self.relation}.{self.column}: cannot be proven ({self.problem}): {chain}"
        if self.through:
            return (f"{chain}: grade {self.grade} {self.klass} reaches the {self.audience} audience through "
                    f"{', '.join(self.through)}, which does not protect {self.klass} (policy: {self.action})")
        return (f"{chain}: grade {self.grade} source reaches the {self.audience} audience unmasked "
                f"(policy: {self.action})")

    def as_json(self) -> dict[str, object]:
        return {"relation": self.relation, "column": self.column, "audience": self.audience,
                "source": self.source, "grade": self.grade, "action": self.action, "class": self.klass,
                "path": " ← ".join(self.path), "through": list(self.through), "problem": self.problem}


def dataset_of(relation: str) -> str | None:
    """The contract dataset a relation holds (raw.x, staging.stg_x, int_x__*, protected.prot_x, tiers.a__x)."""
    schema, _, name = relation.rpartition(".")
    if schema == TIER_SCHEMA:
        source = Source.parse(name)
        return source.dataset if source else None
    for pattern in _DATASET_OF:
        m = pattern.match(relation)
        if m:
            return m.group(1)
    return None


def tier_source(key: str) -> Source | None:
    """The Source of a tiers.<audience>__<dataset> model key, else None."""
    schema, _, name = key.rpartition(".")
    return Source.parse(name) if schema in ("", TIER_SCHEMA) else None


def _display(hops: Sequence[Hop]) -> tuple[str, ...]:
    """Relation hops always; a CTE hop only where the column is renamed inside it."""
    out = []
    for i, h in enumerate(hops):
        renamed = i + 1 < len(hops) and hops[i + 1].column != h.column
        if h.cte is None or renamed:
            out.append(str(h))
    return tuple(out)


def tier_models(models: Mapping[str, str]) -> list[str]:
    """Keys (schema.name) of the tier relations among `models`."""
    return sorted(k for k in (model_key(m) for m in models) if tier_source(k))


def prove(models: Mapping[str, str], policy: Policy, only: Iterable[str] | None = None) -> list[Leak]:
    """Every leak from the tier models among `models` (compiled SQL by schema.name); [] = proven.

    `only` restricts the proof to these tier models (schema.name or bare names).
    """
    return prove_with(Tracer(models), policy, only)


def prove_with(tracer: Tracer, policy: Policy, only: Iterable[str] | None) -> list[Leak]:
    wanted = {model_key(o) for o in only} if only is not None else None
    leaks: dict[tuple, Leak] = {}
    for key in tier_models(tracer.sql):
        if wanted is not None and key not in wanted:
            continue
        audience = tier_source(key).audience  # type: ignore[union-attr]
        if tracer.load(key) is None:
            leaks[(key, "*", "")] = Leak(key, "*", audience, UNRESOLVED, None, None, (key,),
                                         f"cannot be parsed: {tracer.errors.get(key)}")
            continue
        for column in tracer.columns[key]:
            for flow in sorted(tracer.model_flows(key, column), key=lambda f: len(f.hops)):
                leaf = flow.leaf
                if flow.problem or leaf.relation == UNRESOLVED:
                    if any(protects(g, None) for g in flow.guards):
                        continue  # a keyed token protects whatever it was given
                    leak = Leak(key, column, audience, UNRESOLVED, None, None, _display(flow.hops),
                                flow.problem or "unresolved", flow.guards)
                else:
                    ds = dataset_of(leaf.relation)
                    grade = policy.grade(ds, leaf.column) if ds else None
                    if grade is None or grade < SENSITIVE_GRADE:
                        continue
                    action = policy.action(audience, ds, leaf.column)  # type: ignore[arg-type]
                    if action == "keep":
                        continue
                    klass = policy.sensitive_class(ds, leaf.column)  # type: ignore[arg-type]
                    if any(protects(g, klass) for g in flow.guards):
                        continue
                    leak = Leak(key, column, audience, f"{leaf.relation}.{leaf.column}", grade, action,
                                _display(flow.hops), None, flow.guards, klass)
                leaks.setdefault((key, column, leak.source), leak)  # the shortest path per source
    return list(leaks.values())


def flows(models: Mapping[str, str], key: str, column: str) -> list[Flow]:
    """Every path of one output column back to its sources, shortest first (for tests and audits)."""
    return sorted(Tracer(models).model_flows(model_key(key), column), key=lambda f: (len(f.hops), str(f.hops)))
