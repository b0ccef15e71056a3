"""dbt_project/macros/value_quality.sql, written from the value expectations of expectations/datasets.

A value expectation (`meta.huiliu.severity: "value"`) is judged once, on the current state,
before any tier is built, so every audience drops the same rows: dbt's
`governance.quality_kept_aside` lists the offending rows and `prot_<dataset>` leaves them out.
The suites stay the one place an auditor reads the policy; Jinja cannot read them, so this
module turns each value expectation into a SQL condition and the macro is committed; `make
lint` runs `python -m pipelines.tiers.quality_macro --check`.

Only `expect_column_values_to_be_between` is a value expectation today (ranges of dates,
timestamps and amounts); nulls pass, as in Great Expectations. Date bounds may name the
parameters `batch_date`, `batch_next_day` and `batch_year`: the latest batch date of the
dataset's loaded files, never the wall clock, so a re-run converges. A timestamp is compared
by its county day (Asia/Shanghai).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pipelines.contract import DATASETS
from pipelines.paths import PROJECT_ROOT
from pipelines.tiers.dbt import DBT_DIR
from pipelines.tiers.generated import write_or_check

SUITES = PROJECT_ROOT / "expectations" / "datasets"
MACRO = DBT_DIR / "macros" / "value_quality.sql"
PARAMETERS = {
    "batch_date": "d.batch_date",
    "batch_next_day": "(d.batch_date + 1)",
    "batch_year": "extract(year from d.batch_date)::integer",
}
HEADER = """{#- GENERATED from expectations/datasets/*.json by `python -m pipelines.tiers.quality_macro`: do
    not edit. Per dataset, its value expectations as [name, column, SQL condition that a row
    FAILS], in suite order (the first failing one names the row's reason). `c` is the current
    state's row, `d.batch_date` the dataset's latest loaded batch date. -#}
"""


class ValueExpectationError(ValueError):
    """A value expectation the generator cannot turn into SQL: named by suite and index."""


def _bound(value: Any, kind: str, where: str) -> str:
    if isinstance(value, dict):
        name = value.get("$PARAMETER")
        if name not in PARAMETERS:
            raise ValueExpectationError(f"{where}: $PARAMETER {name!r} is not one of {', '.join(PARAMETERS)}")
        return PARAMETERS[name]
    if kind in ("date", "timestamp"):
        try:
            return f"date '{dt.date.fromisoformat(str(value)).isoformat()}'"
        except ValueError as exc:
            raise ValueExpectationError(f"{where}: {value!r} is not a date") from exc
    try:
        return str(Decimal(str(value)))
    except InvalidOperation as exc:
        raise ValueExpectationError(f"{where}: {value!r} is not a number") from exc


def condition(dataset: str, cfg: dict[str, Any], where: str) -> tuple[str, str, str]:
    """(name, column, SQL that is true for a failing row) of one value expectation."""
    if cfg.get("type") != "expect_column_values_to_be_between":
        raise ValueExpectationError(f"{where}: {cfg.get('type')} cannot be a value expectation "
                                    "(only expect_column_values_to_be_between)")
    kw = cfg.get("kwargs", {})
    column = kw.get("column")
    kinds = {c.name: c.kind for c in DATASETS[dataset].columns}
    if column not in kinds or kinds[column] not in ("date", "timestamp", "amount"):
        raise ValueExpectationError(f"{where}: column {column!r} is not a date, timestamp or amount "
                                    f"column of {dataset}")
    kind = kinds[column]
    value = f"(c.{column} at time zone 'Asia/Shanghai')::date" if kind == "timestamp" else f"c.{column}"
    parts = []
    for key, op in (("min_value", ">"), ("max_value", "<")):
        if kw.get(key) is not None:
            strict = kw.get("strict_min" if key == "min_value" else "strict_max", False)
            parts.append(f"{value} {op}{'' if strict else '='} {_bound(kw[key], kind, where)}")
    if not parts:
        raise ValueExpectationError(f"{where}: neither min_value nor max_value")
    name = cfg.get("meta", {}).get("huiliu", {}).get("name") or f"{cfg['type']}({column})"
    return name, column, f"c.{column} is not null and not ({' and '.join(parts)})"


def value_checks(directory: Path = SUITES) -> dict[str, list[tuple[str, str, str]]]:
    out: dict[str, list[tuple[str, str, str]]] = {}
    for path in sorted(directory.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        dataset = doc.get("meta", {}).get("huiliu", {}).get("dataset")
        if dataset not in DATASETS:
            raise ValueExpectationError(f"{path.name}: meta.huiliu.dataset {dataset!r} is not a dataset")
        for i, cfg in enumerate(doc["expectations"]):
            if cfg.get("meta", {}).get("huiliu", {}).get("severity") == "value":
                out.setdefault(dataset, []).append(condition(dataset, cfg, f"{path.name}: expectation {i}"))
    return out


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render(checks: dict[str, list[tuple[str, str, str]]] | None = None) -> str:
    checks = value_checks() if checks is None else checks
    lines = [HEADER, "{% macro huiliu_value_checks() -%}", "{{ return({"]
    for dataset in DATASETS:
        lines.append(f"    {_quote(dataset)}: [")
        lines += [f"        [{_quote(n)}, {_quote(c)}, {_quote(cond)}],"
                  for n, c, cond in checks.get(dataset, [])]
        lines.append("    ],")
    lines += ["}) }}", "{%- endmacro %}", ""]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    return write_or_check(MACRO, render(), argv, "expectations/datasets/*.json",
                          "pipelines.tiers.quality_macro")

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
