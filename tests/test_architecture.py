"""The layout is the architecture: the import rules hold, and they would catch an inversion.

The rules live in pyproject.toml ([tool.importlinter]); `make lint` runs them before the
tests. Here they run once on the tree as it is and once on a copy with one inverted import
(a gate importing publish), which must break the contract and name the import.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

from pipelines.contract import DATASETS, Column
from pipelines.naming import NamingError, Source, tier_of
from pipelines.paths import PROJECT_ROOT
from pipelines.tiers.contract_macro import MACRO, render

LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=root, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(root), "PATH": str(Path(sys.executable).parent)})


def test_the_import_contracts_hold() -> None:
    result = _lint_imports(PROJECT_ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


def test_an_inverted_import_breaks_the_contract(tmp_path: Path) -> None:
    for name in ("pipelines", "huiliu_dev"):
        shutil.copytree(PROJECT_ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    reconcile = tmp_path / "pipelines" / "gates" / "reconcile.py"
    reconcile.write_text(reconcile.read_text() + "\nfrom pipelines.publish.layout import Layout  # noqa\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "pipelines.gates.reconcile -> pipelines.publish.layout" in result.stdout
    assert "Gates judge a candidate through a protocol: they never import publish BROKEN" in " ".join(
        result.stdout.split())


def test_the_runtime_imports_no_test_code() -> None:
    offenders = []
    runtime = [p for package in ("pipelines", "huiliu_dev") for p in (PROJECT_ROOT / package).rglob("*.py")]
    for path in sorted(runtime):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(PROJECT_ROOT)}: {n}" for n in names
                          if n.split(".")[0] in ("tests", "support", "conftest")]
    assert offenders == []


def test_the_contract_macro_is_generated_from_the_contract() -> None:
    assert MACRO.read_text(encoding="utf-8") == render()
    changed = dict(DATASETS)
    d = changed["death_records"]
    changed["death_records"] = type(d)(d.name, d.label, d.source, d.mode, d.owner, d.key,
                                       (*d.columns, Column("cause", 3, "死因")))
    assert render(changed) != render() and "['cause', 'text']" in render(changed)


def test_a_source_name_is_composed_and_read_back_in_one_place() -> None:
    town = Source.parse("town__household_registration")
    assert town == Source("town", "household_registration") and town.name == "town__household_registration"
    assert Source.parse("clear_names__elderly_subsidy") == Source("clear_names", "elderly_subsidy")
    assert Source("granted", "death_records").tier == tier_of("owner") == "department"
    for name in ("stg_household_registration", "towns__household_registration", "town__", "town__Bad"):
        assert Source.parse(name) is None, name
    try:
        Source("nobody", "household_registration")
    except NamingError:
        pass
    else:
        raise AssertionError("an unknown audience must be refused")
