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
from pipelines.derived import DERIVED, TOPICS, WARNINGS

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


# collision_warnings: who the subject is comes from the dataset columns it is read from (each
# tier masks them as it masks those); `evidence` is shown key by key under the ledger's policy.
WARNING_COLUMNS = (
    ("warning_id", "预警编号", "status_code", None),
    ("rule", "规则代码", "status_code", None),
    ("title", "规则名称", "status_code", None),
    ("kind", "类型 (screening 筛查 / collision 数据碰撞)", "status_code", None),
    ("severity", "等级 (red 红色 / yellow 黄色)", "status_code", None),
    ("subject_token", "对象令牌 (身份号码或信用代码的 HMAC, 各层一致)", "token", None),
    ("division_code", "区划代码", "division_code", ("household_registration", "division_code")),
    ("person_name", "姓名 (企业规则为法定代表人)", "person_name", ("household_registration", "name")),
    ("id_number", "公民身份号码 (企业规则为法定代表人)", "identity_number",
     ("household_registration", "id_number")),
    ("enterprise_name", "企业名称", "enterprise_name", ("enterprise_registry", "enterprise_name")),
    ("uscc", "统一社会信用代码", "enterprise_code", ("enterprise_registry", "uscc")),
    ("evidence", "证据 (按本层口径逐项脱敏)", "evidence", None),
    ("first_seen", "首次发现日期", "date", None),
    ("last_seen", "最近发现日期", "date", None),
    ("status", "状态 (new 新增 / open 持续 / resolved 已消除)", "status_code", None),
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
    for name, label, klass, source in WARNING_COLUMNS:
        add(WARNINGS, name, label, klass, "", source, source[0] if source else None)
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
