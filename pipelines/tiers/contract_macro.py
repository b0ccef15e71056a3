"""dbt_project/macros/contract.sql, written from pipelines/contract.py: one contract, two languages.

dbt needs the contract at compile time (staging's row rules are generated from it), and
Jinja cannot import Python, so the macro is generated from `DATASETS` and committed; `make
lint` runs `python -m pipelines.tiers.contract_macro --check`, which fails when the file no
longer matches the contract. Edit contract.py, then run this module to rewrite the macro.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from pipelines.contract import DATASETS, Dataset
from pipelines.tiers.dbt import DBT_DIR
from pipelines.tiers.generated import write_or_check

MACRO = DBT_DIR / "macros" / "contract.sql"

HEADER = """{#- GENERATED from pipelines/contract.py by `python -m pipelines.tiers.contract_macro`: do not edit.
    The batch contract (shared/contracts/batches.md) as data, for generating SQL: per dataset
    its source, mode, owner, key and columns in contract order with their kind (op, id_number,
    uscc, uscc_optional, date, timestamp, period, amount, division, code, phone, text) and,
    for coded columns, the allowed values. -#}
"""


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _list(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(_quote(v) for v in values) + "]"


def _dataset(d: Dataset) -> list[str]:
    out = [f"    {_quote(d.name)}: {{",
           f"        'label': {_quote(d.label)}, 'source': {_quote(d.source)}, 'mode': {_quote(d.mode)}, "
           f"'owner': {_quote(d.owner)},",
           f"        'key': {_list(d.key)},",
           "        'columns': ["]
    for c in d.columns:
        parts = [c.name, c.kind]
        codes = f", {_list(c.codes)}" if c.codes else ""
        out.append(f"            [{_quote(parts[0])}, {_quote(parts[1])}{codes}],")
    out += ["        ],", "    },"]
    return out


def render(datasets: Mapping[str, Dataset] = DATASETS) -> str:
    lines = [HEADER, "{% macro huiliu_contract() -%}", "{{ return({"]
    for d in datasets.values():
        lines += _dataset(d)
    lines += ["}) }}", "{%- endmacro %}", ""]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    return write_or_check(MACRO, render(), argv, "pipelines/contract.py", "pipelines.tiers.contract_macro")

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
