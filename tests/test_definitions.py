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


FLOW = ("ingest", "staging", "governance", "ledgers", "topics", "screenings", "tiers", "publish")


def test_every_edge_flows_forward_through_the_groups():
    graph = _graph()
    groups = {node.key: node.group_name for node in graph.asset_nodes}
    assert set(groups.values()) == set(FLOW)
    rank = {g: i for i, g in enumerate(FLOW)}
    backwards = [(p.to_user_string(), n.key.to_user_string()) for n in graph.asset_nodes
                 for p in n.parent_keys if p in groups and rank[groups[p]] > rank[groups[n.key]]]
    assert not backwards
    tiers = {k for k, g in groups.items() if g == "tiers"}
    assert tiers == {dg.AssetKey(["tiers", t]) for t in ("city", "department", "town", "village")}
    publish = graph.get(dg.AssetKey(["publish", "warehouse"]))
    assert set(publish.parent_keys) == tiers


def test_assets_carry_descriptions_owners_and_kinds():
    for node in _graph().asset_nodes:
        name = node.key.to_user_string()
        assert node.description, name
        assert node.owners, name
        assert node.kinds, name


def test_warehouse_writers_share_one_pool_and_the_gates_are_blocking_checks():
    graph = _graph()
    pools = {n.key.to_user_string(): graph.assets_def_for_key(n.key).node_def.pool for n in graph.asset_nodes
             if n.is_executable}  # the warnings' state and sign-offs are written outside Dagster's steps
    for key in ("raw/household_registration", "staging/stg_household_registration", "tiers/town",
                "publish/warehouse"):
        assert pools[key] == "huiliu_warehouse", key
    checks = {k: graph.get_check_spec(k) for k in graph.asset_check_keys}
    for tier in ("city", "department", "town", "village"):
        spec = checks[dg.AssetCheckKey(dg.AssetKey(["tiers", tier]), "quality_gates")]
        assert spec.blocking
    assert checks[dg.AssetCheckKey(dg.AssetKey(["publish", "warehouse"]), "all_gates")].blocking
