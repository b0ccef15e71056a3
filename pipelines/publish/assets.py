"""The Dagster face of publishing: one step that builds the tiers, gates and switches.

`publish_warehouse` materializes the four tier assets and `publish/warehouse` together
because they are one write-audit-publish step: the advisory lock is taken before the dbt
build of the tier models and released after the switch, so no other run can build or
publish in between. A failed gate fails the step (nothing published) with the gate table
in the error's metadata, and the blocking checks name what failed where.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from pipelines.gates import (
    ALL_GATES,
    GateFailed,
    failures,
    failures_table,
    overview_table,
    warm_up_in_background,
    write_report,
)
from pipelines.gates.checks import check_results, check_specs, value_quality_result
from pipelines.gates.holds import HELD_COLUMNS
from pipelines.govern.token_key import key_withheld
from pipelines.naming import TIERS
from pipelines.progress import step
from pipelines.publish import report
from pipelines.publish.layout import Layout
from pipelines.publish.run import PublishOutcome, publish
from pipelines.resources import WAREHOUSE_POOL, Warehouse
from pipelines.tables import table
from pipelines.tiers import parse_cache
from pipelines.tiers.specs import TIER_KEYS, tier_build_args, tier_specs
from pipelines.topology import load_topology

PUBLISH_KEY = dg.AssetKey(["publish", "warehouse"])
FAILURES = "failed checks"  # the Failure metadata entry `huiliu run` prints

SPECS = tier_specs() + [
    dg.AssetSpec(
        PUBLISH_KEY, group_name="publish", deps=list(TIER_KEYS.values()), kinds={"postgres"},
        owners=["team:data-engineering"],
        description="The switch: every unit schema moves to the new version in one transaction; "
        "roles, grants and governance.publish_log.",
    )
]
CHECK_SPECS = check_specs(TIER_KEYS, PUBLISH_KEY)


class PublishConfig(dg.Config):
    """What an operator may decide for one run (the UI's launchpad, or `huiliu run --accept-drop`)."""

    accept_drop: list[str] = []  # datasets whose volume drop is real: publish it, recorded in governance


def results(outcome: PublishOutcome, gate_report: Path) -> Iterator[dg.MaterializeResult]:
    layout, counts = outcome.layout, outcome.built.counts
    version = dg.MetadataValue.text(outcome.schema)
    for tier in TIERS:
        units = layout.of_tier(tier)
        per_dataset = report.published_rows(layout, counts, tier)  # numbers: the asset page plots them
        meta: dict[str, object] = {
            "version": version,
            "units": len(units),
            "rows published": sum(per_dataset.values()),
            **per_dataset,
            "rows by dataset": report.tier_datasets(layout, counts, tier),
        }
        if tier in ("department", "town"):
            meta[f"rows per {tier}"] = report.per_unit(layout, counts, tier)
        yield dg.MaterializeResult(asset_key=TIER_KEYS[tier], metadata=meta)
    sw = outcome.switch
    yield dg.MaterializeResult(asset_key=PUBLISH_KEY, metadata={
        "version": version,
        "publish_id": sw.publish_id,
        "published_at": dg.MetadataValue.text(sw.published_at.isoformat()),
        "gates": overview_table(outcome.gates),
        "gate report": dg.MetadataValue.path(str(gate_report)),
        "switch ms": round(sw.seconds * 1000, 1),
        "switch locks": sw.locks_held,
        "relations switched": len(outcome.changes.replaced_sources) + len(outcome.changes.recreated_sources),
        "changes": dg.MetadataValue.json(outcome.changes.summary()),
        "roles created": len(outcome.roles.created),
        "privileges repaired": table(["repaired"], [(r,) for r in outcome.roles.repaired]),
        "versions dropped": dg.MetadataValue.text(", ".join(outcome.dropped_versions) or "none"),
        "datasets held": table(HELD_COLUMNS, outcome.holds.held_rows()),
        "volume drops accepted": dg.MetadataValue.text(", ".join(outcome.holds.accepted) or "none"),
        "timings": report.timings_table(outcome.timings),
    })


@dg.multi_asset(
    name="publish_warehouse",
    specs=SPECS,
    check_specs=CHECK_SPECS,
    pool=WAREHOUSE_POOL,
    description="Write-audit-publish: dbt builds tiers.*, a new version adopts them out of sight, "
    "is gated, and is switched in one transaction, all under one advisory lock.",
)
def publish_warehouse(context: dg.AssetExecutionContext, config: PublishConfig, dbt: DbtCliResource,
                      warehouse: Warehouse) -> Iterator[dg.MaterializeResult]:
    os.environ.update(warehouse.dbt_env())
    warm_up_in_background()  # Great Expectations' import overlaps dbt's build of the tiers

    def build_tiers(layout: Layout) -> None:
        args = tier_build_args(s.name for s in layout.relations)
        context.log.info(f"dbt build of the {len(layout.relations)} tier relations the layout reads")
        url = warehouse.resolved_url()
        target = parse_cache.new_target("publish_tiers", url)
        with key_withheld():  # dbt's process starts without the token key
            invocation = dbt.cli(args, target_path=target)
        with step("tiers", total=len(layout.relations), detail="dbt build of the tier relations") as advance:
            for event in invocation.stream_raw_events():  # raises when dbt failed
                node = event.raw_event["data"].get("node_info", {})
                if event.raw_event["info"]["name"] == "LogModelResult":  # one per model built
                    advance(node.get("node_name", ""))
        parse_cache.keep(target, url)

    try:
        outcome = publish(
            warehouse.resolved_url(), load_topology(), run_id=context.run_id,
            build_tiers=build_tiers, gates=ALL_GATES, accept_drop=config.accept_drop, log=context.log.info,
        )
    except GateFailed as exc:
        page = write_report(exc.results, context.run_id)
        yield from check_results(exc.results, page, TIER_KEYS, PUBLISH_KEY)
        raise dg.Failure(description=str(exc), metadata={
            "gates": overview_table(exc.results),
            FAILURES: failures_table(failures(exc.results)),
            "gate report": dg.MetadataValue.path(str(page))}) from exc
    page = write_report(outcome.gates, context.run_id, version=outcome.schema)
    yield from check_results(outcome.gates, page, TIER_KEYS, PUBLISH_KEY)
    yield value_quality_result(outcome.holds, PUBLISH_KEY)
    yield from results(outcome, page)
