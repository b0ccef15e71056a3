"""The catalog rows of the derived relations (ledgers, topics) as a seed, and their facts as a macro.

governance.column_catalog grades and gives actions to every published column; a ledger's
columns take theirs from the contract column they come from (the same birth date gives a town
the same year in household_registration and in person_ledger), so the seed names that source
and column_catalog.sql copies its row. What Python knows and SQL cannot — which department
audiences see what a relation takes from each dataset (pipelines/derived.py), the tags' columns
— is written here, once, into `seeds/derived_columns.csv` and the `huiliu_derived()` macro.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

from pipelines.contract import DATASETS
from pipelines.derived import DERIVED, TOPICS

SEED_COLUMNS = ("relation", "position", "column_name", "label", "class", "grade", "source_dataset",
                "source_column", "departments", "reads")

# A topic library is long: one row per (division, measure, category); `value` is what a small
# cell hides where the unit may not see the rows under it.
TOPIC_COLUMNS = (
    ("division_code", "区划代码 (村社区, 或镇街代码+000 的全镇汇总)", "division_code"),
    ("division_level", "区划层级 (village 村社区 / town 镇街汇总)", "status_code"),
    ("measure", "指标代码", "status_code"),
    ("measure_label", "指标", "status_code"),
    ("category", "分组 (合计: 该指标的总数)", "status_code"),
    ("value", "数值 (看不到明细的单位中, 1-4 的小格及可反推它的合计隐藏为空)", "aggregate"),
    ("suppressed", "是否按小格规则隐藏", "status_code"),
)


def seed_rows(ledgers: Mapping) -> list[dict[str, object]]:
    """One row per published column of every derived relation, in publishing order."""
    rows: list[dict[str, object]] = []

    def add(relation: str, name: str, label: str, klass: str, grade: object = "", source=None,
            dataset: str | None = None, reads: str = "") -> None:
        rows.append({
            "relation": relation, "position": sum(r["relation"] == relation for r in rows) + 1,
            "column_name": name, "label": label, "class": klass, "grade": grade,
            "source_dataset": source[0] if source else "", "source_column": source[1] if source else "",
            "departments": DERIVED[relation].department_sees(dataset), "reads": reads,
        })

    for ledger in ledgers.values():
        for c in ledger.base_columns.values():
            add(ledger.name, c.name, c.label, c.klass, "" if c.source else c.grade, c.source, c.dataset)
        add(ledger.name, "tags", "标签", "tag", 1)
        for t in ledger.tags:
            add(ledger.name, f"tag_{t.code}", t.label, "tag", t.grade, reads=" ".join(t.columns))
    for topic in TOPICS:
        for name, label, klass in TOPIC_COLUMNS:
            add(topic, name, label, klass, "")
    return rows


def render_seed(ledgers: Mapping) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, SEED_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(seed_rows(ledgers))
    return out.getvalue()


def render_derived_macro() -> str:
    """`huiliu_derived()`: per derived relation its label, kind, base and the datasets each
    department audience sees of it (owner: `owner`; granted, clear_names: `granted`)."""
    lines = ["{% macro huiliu_derived() -%}", "{{ return({"]
    for d in DERIVED.values():
        owner = [x for x in DATASETS if d.department_sees(x) != "none"]
        granted = [x for x in DATASETS if d.department_sees(x) == "owner_and_granted"]
        lines.append(f"    '{d.name}': {{'label': '{d.label}', 'kind': '{d.kind}', 'base': '{d.base}', "
                     f"'owner': {owner!r}, 'granted': {granted!r}}},")
    lines += ["}) }}", "{%- endmacro %}", ""]
    return "\n".join(lines)
