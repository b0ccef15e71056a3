"""The severity policy is written in the suites, loaded strictly, and listed in docs/reliability.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.gates.expectations.suites import EXPECTATIONS_DIR, load_suites
from pipelines.paths import PROJECT_ROOT
from pipelines.tiers.quality_macro import ValueExpectationError, condition, value_checks


def _rows() -> list[str]:
    out = []
    for path in sorted(EXPECTATIONS_DIR.glob("*/*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for i, e in enumerate(doc["expectations"]):
            h, k = e["meta"]["huiliu"], e["kwargs"]
            what = h.get("name") or k.get("column") or ",".join(k.get("column_list", [])) or ""
            if what == "*":
                sel = h.get("columns", {})
                what = "* (" + ", ".join(f"{a}={'/'.join(b) if isinstance(b, list) else b}"
                                         for a, b in sel.items() if a in ("class", "action", "type")) + ")"
            out.append(f"| {path.parent.name}/{path.name} | {i} | {e['type']}({what}) | {h['severity']} |")
    return out


def test_docs_list_every_expectation_with_its_severity():
    doc = (PROJECT_ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    listed = [line for line in doc.splitlines() if line.startswith(("| datasets/", "| tiers/"))]
    assert listed == _rows()


def test_value_expectations_are_ranges_of_contract_valid_values_and_tiers_hold_only_invariants():
    suites = load_suites()
    for suite in suites:
        for e in suite.expectations:
            if e["meta"]["huiliu"]["severity"] == "value":
                assert suite.kind == "dataset" and e["type"] == "expect_column_values_to_be_between", suite.name
    assert sum(len(v) for v in value_checks().values()) == 15


def test_a_suite_without_a_severity_does_not_load(tmp_path: Path):
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "x.json").write_text(json.dumps({"name": "x", "meta": {}, "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}, "meta": {}}]}))
    with pytest.raises(ValueError, match="severity"):
        load_suites(tmp_path)


def test_a_value_expectation_the_generator_cannot_express_is_refused_by_name():
    cfg = {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "paid_on", "regex": "."}}
    with pytest.raises(ValueExpectationError, match="x.json: expectation 3"):
        condition("elderly_subsidy", cfg, "x.json: expectation 3")
    cfg = {"type": "expect_column_values_to_be_between",
           "kwargs": {"column": "paid_on", "max_value": {"$PARAMETER": "today"}}}
    with pytest.raises(ValueExpectationError, match="today"):  # the wall clock is not a bound
        condition("elderly_subsidy", cfg, "x.json: expectation 3")
    cfg["kwargs"]["max_value"] = {"$PARAMETER": "batch_date"}
    assert condition("elderly_subsidy", cfg, "w")[2] == (
        "c.paid_on is not null and not (c.paid_on <= d.batch_date)")
