"""The gates' verdict as blocking Dagster asset checks: one per tier asset and one overall.

The checks are evaluated inside the publish step, before the switch (one lock spans build →
gates → switch), so the UI shows which expectation failed where. The asset keys are given
by the caller: gates know tiers, not the publish step that owns the checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import dagster as dg

from pipelines.gates.base import GateResult
from pipelines.gates.holds import HELD_COLUMNS, KEPT_COLUMNS, Holds
from pipelines.gates.report import failures, failures_table, overview_table
from pipelines.tables import table

TIER_CHECK = "quality_gates"
PUBLISH_CHECK = "all_gates"
VALUE_CHECK = "value_quality"  # not blocking: rows kept aside and datasets held, the rest publishes


def check_specs(tier_keys: Mapping[str, dg.AssetKey], publish_key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(TIER_CHECK, asset=key, blocking=True,
                          description=f"Great Expectations suites and the lineage proof on the {tier} "
                          "relations of the unpublished version; a failure refuses the whole publish.")
        for tier, key in tier_keys.items()
    ] + [
        dg.AssetCheckSpec(PUBLISH_CHECK, asset=publish_key, blocking=True,
                          description="Every gate: reconciliation of counts, per-file accounting, lineage "
                          "proof, expectation suites. All tiers publish together or not at all."),
        dg.AssetCheckSpec(VALUE_CHECK, asset=publish_key, blocking=False,
                          description="Value expectations on the current state: rows kept aside "
                          "(quality:<expectation>) and datasets held at their previous state (value "
                          "threshold or volume drop). Warns; the other datasets publish."),
    ]


def value_quality_result(holds: Holds, publish_key: dg.AssetKey) -> dg.AssetCheckResult:
    """Kept aside by expectation and held datasets, as a warning when anything was held back."""
    return dg.AssetCheckResult(
        asset_key=publish_key, check_name=VALUE_CHECK, passed=not holds.kept and not holds.held,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"rows kept aside": sum(k.rows for k in holds.kept),
                  "kept aside by": table(KEPT_COLUMNS, [k.row() for k in holds.kept]),
                  "datasets held": table(HELD_COLUMNS, holds.held_rows()),
                  "volume drops accepted": ", ".join(holds.accepted) or "none"})


def check_results(results: Sequence[GateResult], gate_report: Path, tier_keys: Mapping[str, dg.AssetKey],
                  publish_key: dg.AssetKey) -> list[dg.AssetCheckResult]:
    """The gate results as one check per tier and one overall, with the failures as tables."""
    items = failures(results)
    report = dg.MetadataValue.path(str(gate_report))
    out = []
    for tier, key in tier_keys.items():
        mine = [f for f in items if f["tier"] == tier]
        out.append(dg.AssetCheckResult(
            asset_key=key, check_name=TIER_CHECK, passed=not mine,
            metadata={"failed checks": len(mine), "failures": failures_table(mine),
                      "gate report": report}))
    out.append(dg.AssetCheckResult(
        asset_key=publish_key, check_name=PUBLISH_CHECK, passed=all(r.passed for r in results),
        metadata={"results": len(results), "failed": sum(not r.passed for r in results),
                  "gates": overview_table(results),
                  "failures": failures_table(items),
                  "gate report": report}))
    return out
