"""The ledgers' tags (ledgers/tags.yaml), checked, graded, and written as a dbt macro.

Tags are data a county's data office edits; their predicates become SQL that every unit's ledger
passes through, so nothing of the YAML text reaches dbt: each predicate is parsed and held to the
whitelist by pipelines/predicates.py, and the macro carries sqlglot's rendering of the checked tree
with the ledger's columns qualified. A tag's grade is the highest grade of the base columns it
reads; a base column's grade is its class's policy grade, or its source column's (contract
grade and class grade, whichever is higher) — the same grades the column catalog gives the
datasets. `python -m pipelines.tiers.ledgers [--check]` writes (or checks) the macro.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipelines.contract import DATASETS
from pipelines.derived import LEDGERS
from pipelines.paths import PROJECT_ROOT
from pipelines.predicates import Predicate, PredicateError, check
from pipelines.tiers.dbt import DBT_DIR
from pipelines.tiers.derived_catalog import render_derived_macro, render_seed
from pipelines.tiers.generated import write_or_check

TAGS_FILE = PROJECT_ROOT / "ledgers" / "tags.yaml"
MACRO = DBT_DIR / "macros" / "ledger_tags.sql"
SEED = DBT_DIR / "seeds" / "derived_columns.csv"
ALIAS = "l"
_CODE = re.compile(r"[a-z][a-z0-9_]{0,40}")
HEADER = """{#- GENERATED from ledgers/tags.yaml by `python -m pipelines.tiers.ledgers`: do not edit.
    Per ledger, its tags as {code, label, grade, columns, sql}: `sql` is the checked predicate
    rendered by sqlglot over the ledger row `l`; `columns` the base columns it reads. -#}
"""


class LedgerError(ValueError):
    """ledgers/tags.yaml refused: names the ledger, the tag or column, and what is wrong."""


@dataclass(frozen=True)
class BaseColumn:
    name: str
    label: str
    klass: str
    grade: int
    source: tuple[str, str] | None = None  # the contract column its grade and actions come from
    dataset: str | None = None  # the dataset it tells about (a department sees it only with that one)


@dataclass(frozen=True)
class Tag:
    code: str
    label: str
    predicate: Predicate
    grade: int

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(sorted(self.predicate.columns))


@dataclass(frozen=True)
class Ledger:
    name: str
    label: str
    base_columns: Mapping[str, BaseColumn]
    tags: tuple[Tag, ...]


def _grades() -> tuple[dict[str, int], dict[tuple[str, str], tuple[str, int]]]:
    """Class → policy grade, and (dataset, column) → (class, contract grade), from the seeds."""
    seeds = DBT_DIR / "seeds"
    with open(seeds / "class_policy.csv", encoding="utf-8", newline="") as f:
        classes = {r["class"]: int(r["grade"]) for r in csv.DictReader(f)}
    with open(seeds / "column_classes.csv", encoding="utf-8", newline="") as f:
        columns = {(r["dataset"], r["column_name"]): (r["class"], int(r["contract_grade"]))
                   for r in csv.DictReader(f)}
    return classes, columns


def _base_column(ledger: str, name: str, spec: object, classes: Mapping[str, int],
                 columns: Mapping[tuple[str, str], tuple[str, int]]) -> BaseColumn:
    where = f"{ledger}: base column {name!r}"
    if not _CODE.fullmatch(str(name)) or not isinstance(spec, dict) or not spec.get("label"):
        raise LedgerError(f"{where}: needs a lower-case name and a mapping with a label")
    if "from" in spec:
        dataset, _, column = str(spec["from"]).partition(".")
        if dataset not in DATASETS or (dataset, column) not in columns:
            raise LedgerError(f"{where}: from {spec['from']!r} names no column of the contract")
        klass, contract_grade = columns[(dataset, column)]
        own = str(spec.get("class", klass))  # e.g. an age: its own class, its birth date's grade
        if own not in classes:
            raise LedgerError(f"{where}: class {own!r} is not in seeds/class_policy.csv")
        return BaseColumn(name, str(spec["label"]), own, max(contract_grade, classes[klass]),
                          (dataset, column), dataset)
    klass = str(spec.get("class"))
    if klass not in classes:
        raise LedgerError(f"{where}: class {klass!r} is not in seeds/class_policy.csv")
    dataset = spec.get("dataset")
    if dataset is not None and dataset not in DATASETS:
        raise LedgerError(f"{where}: dataset {dataset!r} is not a dataset of the contract")
    return BaseColumn(name, str(spec["label"]), klass, classes[klass], None, dataset)


def _tag(ledger: str, spec: object, base: Mapping[str, BaseColumn], seen: set[str]) -> Tag:
    if not isinstance(spec, dict):
        raise LedgerError(f"{ledger}: each tag is a mapping with code, label and predicate")
    code = str(spec.get("code", ""))
    if not _CODE.fullmatch(code):
        raise LedgerError(f"{ledger}: tag code {code!r} must be lower-case letters, digits and _")
    if code in seen:
        raise LedgerError(f"{ledger}: tag {code!r} is defined twice")
    if not spec.get("label"):
        raise LedgerError(f"{ledger}: tag {code!r} has no label")
    seen.add(code)
    try:
        predicate = check(f"{ledger}: tag {code}", spec.get("predicate"), base)
    except PredicateError as exc:
        raise LedgerError(str(exc)) from None
    grade = max(base[c].grade for c in predicate.columns) if predicate.columns else 1
    return Tag(code, str(spec["label"]), predicate, grade)


def load_ledgers(path: Path = TAGS_FILE) -> dict[str, Ledger]:
    """Every ledger of `path`, its base columns graded and its tags checked."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = set(doc) - set(LEDGERS)
    if unknown:
        raise LedgerError(f"{path.name}: no such ledger: {', '.join(sorted(unknown))} "
                          f"(ledgers: {', '.join(LEDGERS)})")
    classes, columns = _grades()
    out = {}
    for name, spec in doc.items():
        declared = spec.get("base_columns") or {}
        base = {c: _base_column(name, c, s, classes, columns) for c, s in declared.items()}
        seen: set[str] = set()
        tags = tuple(_tag(name, t, base, seen) for t in spec.get("tags") or [])
        out[name] = Ledger(name, str(spec.get("label", name)), base, tags)
    return out


def render(ledgers: Mapping[str, Ledger]) -> str:
    def literal(text: str) -> str:
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"

    lines = [HEADER, "{% macro huiliu_ledger_tags() -%}", "{{ return({"]
    for ledger in ledgers.values():
        lines.append(f"    '{ledger.name}': [")
        for t in ledger.tags:
            cols = ", ".join(f"'{c}'" for c in t.columns)
            lines.append(f"        {{'code': '{t.code}', 'label': {literal(t.label)}, 'grade': {t.grade}, "
                         f"'columns': [{cols}], 'sql': {literal(t.predicate.sql(ALIAS))}}},")
        lines.append("    ],")
    lines += ["}) }}", "{%- endmacro %}", "", render_derived_macro()]
    return "\n".join(lines)


def require_current() -> None:
    """Before any run: tags.yaml is valid and the committed macro and seed are what it generates."""
    ledgers = load_ledgers()
    for path, text in ((MACRO, render(ledgers)), (SEED, render_seed(ledgers))):
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            raise LedgerError(f"{path.relative_to(DBT_DIR.parent)} does not match ledgers/tags.yaml: "
                              "run `python -m pipelines.tiers.ledgers`")


def main(argv: list[str]) -> int:
    try:
        ledgers = load_ledgers()
    except LedgerError as exc:
        print(f"ledgers/tags.yaml: {exc}", file=sys.stderr)
        return 1
    return max(write_or_check(path, text, argv, "ledgers/tags.yaml", "pipelines.tiers.ledgers")
               for path, text in ((MACRO, render(ledgers)), (SEED, render_seed(ledgers))))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
