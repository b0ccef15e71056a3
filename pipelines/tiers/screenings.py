"""Screenings and data collisions (筛查 / 数据碰撞): rules as data, checked, and written as a dbt macro.

A county's data office adds a rule by adding `screenings/<code>.yaml`: its title, kind, severity,
the units its warnings are routed to, the ledger it reads, a predicate over that ledger's base
columns and tags, and the evidence columns a receiving unit is shown. The predicate becomes SQL
that every person or enterprise of the county passes through, so it is held to the same
whitelist as the tags (pipelines/predicates.py) and what reaches dbt is sqlglot's rendering of
the checked tree. Evidence names plain facts (dates, codes, counts, ages), never an identifier:
who the subject is travels in the warning's own columns, under each tier's policy.
`python -m pipelines.tiers.screenings [--check]` writes (or checks) the macro; every definitions
load refuses a run whose rules are invalid or whose macro is stale.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from pipelines.paths import PROJECT_ROOT
from pipelines.predicates import Predicate, PredicateError, check
from pipelines.tiers.dbt import DBT_DIR
from pipelines.tiers.generated import write_or_check
from pipelines.tiers.ledgers import Ledger, load_ledgers
from pipelines.topology import Topology, load_topology

RULES_DIR = PROJECT_ROOT / "screenings"
MACRO = DBT_DIR / "macros" / "screening_rules.sql"
ALIAS = "l"
KINDS = ("screening", "collision")
SEVERITIES = ("red", "yellow")
TIER_ROUTES = ("town", "village")  # the subject's own town or village
_CODE = re.compile(r"[a-z][a-z0-9_]{0,40}")
# Who the subject is never goes into the evidence: the warning carries it under each tier's policy.
IDENTIFYING = frozenset({"identity_number", "certificate_number", "person_name", "phone", "bank_account",
                         "household_id", "address", "free_text", "token"})
HEADER = """{#- GENERATED from screenings/*.yaml by `python -m pipelines.tiers.screenings`: do not edit.
    Each rule as {code, title, kind, severity, routes, ledger, evidence, sql}: `sql` is the
    checked predicate rendered by sqlglot over the ledger row `l`. -#}
"""


class ScreeningError(ValueError):
    """A rule refused: names the file, the rule and what is wrong (for a predicate, the node)."""


@dataclass(frozen=True)
class Rule:
    code: str
    title: str
    kind: str
    severity: str
    routes: tuple[str, ...]  # department schemas (dept_<code>), `town`, `village`
    ledger: str
    predicate: Predicate
    evidence: tuple[str, ...]

    def routed_to(self, tier: str, schema: str) -> bool:
        """Whether a unit of `tier` (department, town, village) receives this rule's warnings."""
        return schema in self.routes if tier == "department" else tier in self.routes


def _rule(path: Path, doc: object, ledgers: Mapping[str, Ledger], departments: set[str]) -> Rule:
    where = f"{path.name}"
    if not isinstance(doc, dict):
        raise ScreeningError(f"{where}: a rule is a mapping (code, title, kind, severity, routes, ledger, "
                             "predicate, evidence)")
    code = str(doc.get("code", ""))
    if not _CODE.fullmatch(code) or code != path.stem:
        raise ScreeningError(f"{where}: code {code!r} must be lower-case letters, digits and _, "
                             f"and name its file ({path.stem}.yaml)")
    where = f"{path.name}: rule {code}"
    unknown = set(doc) - {"code", "title", "kind", "severity", "routes", "ledger", "predicate", "evidence"}
    if unknown:
        raise ScreeningError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    if not doc.get("title"):
        raise ScreeningError(f"{where}: needs a title")
    if doc.get("kind") not in KINDS:
        raise ScreeningError(f"{where}: kind must be one of {', '.join(KINDS)}, not {doc.get('kind')!r}")
    if doc.get("severity") not in SEVERITIES:
        raise ScreeningError(f"{where}: severity must be one of {', '.join(SEVERITIES)}, "
                             f"not {doc.get('severity')!r}")
    routes = doc.get("routes")
    if not isinstance(routes, list) or not routes:
        raise ScreeningError(f"{where}: routes must list the units that receive its warnings")
    for r in routes:
        if r not in TIER_ROUTES and r not in departments:
            raise ScreeningError(f"{where}: route {r!r} is neither town, village nor a department of "
                                 f"partitions.yaml ({', '.join(sorted(departments))})")
    ledger = ledgers.get(str(doc.get("ledger")))
    if ledger is None:
        raise ScreeningError(f"{where}: ledger {doc.get('ledger')!r} is not one of {', '.join(ledgers)}")
    names = {*ledger.base_columns, *(f"tag_{t.code}" for t in ledger.tags)}
    try:
        predicate = check(where, doc.get("predicate"), names)
    except PredicateError as exc:
        raise ScreeningError(str(exc)) from None
    evidence = doc.get("evidence")
    if not isinstance(evidence, list) or not evidence:
        raise ScreeningError(f"{where}: evidence must list the ledger columns a receiving unit is shown")
    for c in evidence:
        base = ledger.base_columns.get(str(c))
        if base is None:
            raise ScreeningError(f"{where}: evidence column {c!r} is not a base column of {ledger.name}")
        if base.klass in IDENTIFYING:
            raise ScreeningError(f"{where}: evidence column {c!r} identifies someone ({base.klass}); "
                                 "a warning names its subject in its own columns, under each tier's policy")
    return Rule(code, str(doc["title"]), str(doc["kind"]), str(doc["severity"]), tuple(dict.fromkeys(routes)),
                ledger.name, predicate, tuple(dict.fromkeys(str(c) for c in evidence)))


def load_rules(directory: Path = RULES_DIR, topology: Topology | None = None) -> dict[str, Rule]:
    """Every rule of `directory` (one YAML file each), checked against the ledgers and the topology."""
    ledgers = load_ledgers()
    departments = {d.schema for d in (topology or load_topology()).departments}
    rules: dict[str, Rule] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ScreeningError(f"{path.name}: not YAML: {exc}") from None
        rule = _rule(path, doc, ledgers, departments)
        rules[rule.code] = rule
    read_from: dict[str, str] = {}
    for rule in rules.values():  # each evidence column is one column of the warnings (ev_<name>)
        for c in rule.evidence:
            if read_from.setdefault(c, rule.ledger) != rule.ledger:
                raise ScreeningError(f"{rule.code}.yaml: rule {rule.code}: evidence column {c!r} is also read "
                                     f"from {read_from[c]}; name the column apart in ledgers/tags.yaml")
    return rules


@cache
def rules() -> dict[str, Rule]:
    """The project's rules, loaded once per process (plan_layout and the CLI read them)."""
    return load_rules()


def render(rules: Mapping[str, Rule]) -> str:
    def literal(text: str) -> str:
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"

    lines = [HEADER, "{% macro huiliu_screenings() -%}", "{{ return(["]
    for r in rules.values():
        routes = ", ".join(f"'{x}'" for x in r.routes)
        evidence = ", ".join(f"'{x}'" for x in r.evidence)
        lines.append(f"    {{'code': '{r.code}', 'title': {literal(r.title)}, 'kind': '{r.kind}', "
                     f"'severity': '{r.severity}', 'routes': [{routes}], 'ledger': '{r.ledger}', "
                     f"'evidence': [{evidence}], 'sql': {literal(r.predicate.sql(ALIAS))}}},")
    lines += ["]) }}", "{%- endmacro %}", ""]
    return "\n".join(lines)


def require_current() -> None:
    """Before any run: every rule is valid and the committed macro is what they generate."""
    text = render(load_rules())
    if not MACRO.exists() or MACRO.read_text(encoding="utf-8") != text:
        raise ScreeningError(f"{MACRO.relative_to(DBT_DIR.parent)} does not match screenings/*.yaml: "
                             "run `python -m pipelines.tiers.screenings`")


def main(argv: list[str]) -> int:
    try:
        text = render(load_rules())
    except ScreeningError as exc:
        print(f"screenings: {exc}", file=sys.stderr)
        return 1
    return write_or_check(MACRO, text, argv, "screenings/*.yaml", "pipelines.tiers.screenings")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
