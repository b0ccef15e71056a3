"""The Dagster Definitions load, validate, and read as the architecture."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg

from pipelines.contract import DATASETS
from pipelines.definitions import defs

ROOT = Path(__file__).resolve().parent.parent


def _graph() -> dg.AssetGraph:
    return defs.resolve_asset_graph()


def test_raw_assets_are_partitioned_by_batch_date_and_feed_dbt():
    graph = _graph()
    for name in DATASETS:
        raw = graph.get(dg.AssetKey(["raw", name]))
        assert raw.partitions_def is not None
        staged = dg.AssetKey(["staging", f"stg_{name}"])
        assert raw.key in graph.get(staged).parent_keys
        current = dg.AssetKey(["intermediate", f"int_{name}__current"])
        assert staged in graph.get(current).parent_keys


def test_groups_read_as_the_flow():
    groups = {node.key: node.group_name for node in _graph().asset_nodes}
    assert groups[dg.AssetKey(["raw", "household_registration"])] == "ingest"
    assert groups[dg.AssetKey(["staging", "stg_household_registration"])] == "staging"
    assert groups[dg.AssetKey(["governance", "kept_aside_rows"])] == "governance"
    accounts = _graph().get(dg.AssetKey(["governance", "batch_file_accounts"]))
    assert dg.AssetKey(["governance", "file_row_counts"]) in accounts.parent_keys


def test_batch_job_and_blocking_reconciliation_check():
    job = defs.resolve_job_def("batch_job")
    assert job.partitions_def is not None
    checks = _graph().asset_check_keys
    assert dg.AssetCheckKey(dg.AssetKey(["governance", "batch_file_accounts"]),
                            "files_reconcile") in checks


def test_dagster_definitions_validate_passes():
    dagster = str(Path(sys.executable).parent / "dagster")
    result = subprocess.run([dagster, "definitions", "validate", "-w", "workspace.yaml"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
