"""The Dagster face of publishing: one op that builds the tiers, gates and switches.

`publish_warehouse` materializes the four tier assets and `publish/warehouse` together
because they are one write-audit-publish step: the advisory lock is taken before
`dbt build --select path:models/tiers` and released after the switch, so no other run can
build or publish in between. A failed gate fails the step (nothing published) with the
gate table in the error's metadata.
"""

import json
import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from pipelines.contract import DATASETS
from pipelines.gates import (
    failures,
    failures_markdown,
    overview_markdown,
    quality_gate,
    warm_up_in_background,
    write_report,
)
from pipelines.publish import report
from pipelines.publish.gates import Gate, GateFailed, GateResult
from pipelines.publish.naming import TIERS
from pipelines.publish.run import DEFAULT_GATES, PublishOutcome, publish, today_in_county
from pipelines.resources import WAREHOUSE_POOL, Warehouse
from pipelines.topology import load_topology

PUBLISH_KEY = dg.AssetKey(["publish", "warehouse"])
TIER_KEYS = {tier: dg.AssetKey(["tiers", tier]) for tier in TIERS}
CURRENT_STATE = [dg.AssetKey(["intermediate", f"int_{d}__current"]) for d in DATASETS]
TIERS_PATH = "models/tiers/"
FAILURES = "failed checks"  # the Failure metadata entry `huiliu run` prints
DBT_TIERS_ARGS = ["build", "--select", "path:models/tiers", "--exclude-resource-type", "unit_test"]

# --- quality gates: every one runs on the built, unpublished version; any failure refuses the publish.
# Each is `gate(conn, version: BuiltVersion) -> list[GateResult]`. The reconciliation of counts is
# here; the expectation suites and the lineage proof (pipelines.gates.quality_gate) join this tuple.
GATES: tuple[Gate, ...] = (*DEFAULT_GATES, quality_gate)


def tier_inputs() -> list[dg.AssetKey]:
    """What dbt's models/tiers read (from the manifest), so the graph shows … → tiers → publish.

    Falls back to the current-state models when the manifest has no tiers folder yet.
    """
    try:
        from pipelines.transform import HuiliuTranslator, prepare_manifest

        manifest = json.loads(prepare_manifest().read_text())
    except Exception:  # a broken dbt project must not hide the publish asset
        return CURRENT_STATE
    nodes = {**manifest.get("nodes", {}), **manifest.get("sources", {})}
    tiers = {uid for uid, n in nodes.items()
             if n.get("resource_type") == "model" and n.get("original_file_path", "").startswith(TIERS_PATH)}
    parents = {p for uid in tiers for p in manifest.get("parent_map", {}).get(uid, []) if p not in tiers}
    translator = HuiliuTranslator()
    keys = {translator.get_asset_key(nodes[p]) for p in parents
            if p in nodes and nodes[p].get("resource_type") in ("model", "seed", "snapshot", "source")}
    return sorted(keys, key=lambda k: k.to_user_string()) or CURRENT_STATE


_TIER_TEXT = {
    "city": "city (市本级): every county row of the seven datasets under the city policy.",
    "department": "dept_<code> (部门): owned datasets in full, granted ones as the grant allows.",
    "town": "town_<code9> (镇街): the rows under each town, under the town policy.",
    "village": "village_<code12> (村社区): each village's own rows, under the village policy.",
}

_INPUTS = tier_inputs()
SPECS = [
    dg.AssetSpec(
        TIER_KEYS[tier], group_name="tiers", deps=_INPUTS, kinds={"postgres", "dbt"},
        owners=["team:data-engineering"], description=_TIER_TEXT[tier],
    )
    for tier in TIERS
] + [
    dg.AssetSpec(
        PUBLISH_KEY, group_name="publish", deps=list(TIER_KEYS.values()), kinds={"postgres"},
        owners=["team:data-engineering"],
        description="The switch: every unit schema moves to the new version in one transaction; "
        "roles, grants and governance.publish_log.",
    )
]


# Blocking asset checks: the gates' verdict per tier (its relations' expectations and lineage) and
# overall on the publish asset. They are evaluated inside the publish step, before the switch.
TIER_CHECK = "quality_gates"
PUBLISH_CHECK = "all_gates"
CHECK_SPECS = [
    dg.AssetCheckSpec(TIER_CHECK, asset=TIER_KEYS[tier], blocking=True,
                      description=f"Great Expectations suites and the lineage proof on the {tier} relations "
                      "of the unpublished version; a failure refuses the whole publish.")
    for tier in TIERS
] + [
    dg.AssetCheckSpec(PUBLISH_CHECK, asset=PUBLISH_KEY, blocking=True,
                      description="Every gate: reconciliation of counts, per-file accounting, lineage proof, "
                      "expectation suites. All tiers publish together or not at all.")
]


def check_results(results: list[GateResult], gate_report: Path) -> list[dg.AssetCheckResult]:
    """The gate results as one check per tier and one overall, with the failures as tables."""
    items = failures(results)
    out = []
    for tier in TIERS:
        mine = [f for f in items if f["tier"] == tier]
        out.append(dg.AssetCheckResult(
            asset_key=TIER_KEYS[tier], check_name=TIER_CHECK, passed=not mine,
            metadata={"failed checks": len(mine), "failures": dg.MetadataValue.md(failures_markdown(mine)),
                      "gate report": dg.MetadataValue.path(str(gate_report))}))
    out.append(dg.AssetCheckResult(
        asset_key=PUBLISH_KEY, check_name=PUBLISH_CHECK, passed=all(r.passed for r in results),
        metadata={"results": len(results), "failed": sum(not r.passed for r in results),
                  "gates": dg.MetadataValue.md(overview_markdown(results)),
                  "failures": dg.MetadataValue.md(failures_markdown(items)),
                  "gate report": dg.MetadataValue.path(str(gate_report))}))
    return out


def _batch_dates(context: dg.AssetExecutionContext) -> list | None:
    import datetime as dt

    tags = context.run.tags
    if "dagster/partition" in tags:
        return [dt.date.fromisoformat(tags["dagster/partition"])]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    if start and end:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
        return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    return None  # publish() reads the loaded dates from governance.batch_files


def results(outcome: PublishOutcome, gate_report: Path) -> Iterator[dg.MaterializeResult]:
    layout, counts = outcome.layout, outcome.built.counts
    version = dg.MetadataValue.text(outcome.schema)
    for tier in TIERS:
        units = layout.of_tier(tier)
        meta: dict[str, object] = {
            "version": version,
            "units": len(units),
            "rows by dataset": dg.MetadataValue.md(report.tier_datasets(layout, counts, tier)),
        }
        if tier in ("department", "town"):
            meta[f"rows per {tier}"] = dg.MetadataValue.md(report.per_unit(layout, counts, tier))
        if tier == "city":
            meta["rows"] = sum(counts.view_rows(v) for u in units for v in u.views)
        yield dg.MaterializeResult(asset_key=TIER_KEYS[tier], metadata=meta)
    sw = outcome.switch
    yield dg.MaterializeResult(asset_key=PUBLISH_KEY, metadata={
        "version": version,
        "publish_id": sw.publish_id,
        "published_at": dg.MetadataValue.text(sw.published_at.isoformat()),
        "gates": dg.MetadataValue.md(overview_markdown(outcome.gates)),
        "gate report": dg.MetadataValue.path(str(gate_report)),
        "switch ms": round(sw.seconds * 1000, 1),
        "switch locks": sw.locks_held,
        "relations switched": len(outcome.changes.replaced_sources) + len(outcome.changes.recreated_sources),
        "changes": dg.MetadataValue.json(outcome.changes.summary()),
        "roles created": len(outcome.roles.created),
        "versions dropped": dg.MetadataValue.text(", ".join(outcome.dropped_versions) or "none"),
        "timings": dg.MetadataValue.md(report.timings_table(outcome.timings)),
    })


@dg.multi_asset(
    name="publish_warehouse",
    specs=SPECS,
    check_specs=CHECK_SPECS,
    pool=WAREHOUSE_POOL,
    description="Write-audit-publish: dbt builds tiers.*, a new version adopts them out of sight, "
    "is gated, and is switched in one transaction, all under one advisory lock.",
)
def publish_warehouse(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse
                      ) -> Iterator[dg.MaterializeResult]:
    os.environ.update(warehouse.dbt_env())
    warm_up_in_background()  # Great Expectations' import overlaps dbt's build of the tiers

    def build_tiers() -> None:
        context.log.info("dbt " + " ".join(DBT_TIERS_ARGS))
        dbt.cli(DBT_TIERS_ARGS).wait()

    try:
        outcome = publish(
            warehouse.resolved_url(), load_topology(), day=today_in_county(), run_id=context.run_id,
            batch_dates=_batch_dates(context), build_tiers=build_tiers, gates=GATES,
            log=context.log.info,
        )
    except GateFailed as exc:
        page = write_report(exc.results, context.run_id)
        yield from check_results(exc.results, page)
        raise dg.Failure(description=str(exc), metadata={
            "gates": dg.MetadataValue.md(overview_markdown(exc.results)),
            FAILURES: dg.MetadataValue.md(failures_markdown(failures(exc.results))),
            "gate report": dg.MetadataValue.path(str(page))}) from exc
    page = write_report(outcome.gates, context.run_id, version=outcome.schema)
    yield from check_results(outcome.gates, page)
    yield from results(outcome, page)
