"""Dagster assets of ingestion: the county topology and the raw datasets per batch date."""


import datetime as dt
from collections import defaultdict

import dagster as dg

from pipelines.clock import batch_dates
from pipelines.contract import DATASETS
from pipelines.ingest.batches import ingest_day
from pipelines.ingest.loader import FileOutcome
from pipelines.ingest.schema import ensure_schemas, sync_divisions
from pipelines.naming import RAW_SCHEMA
from pipelines.resources import WAREHOUSE_POOL, Landing, Warehouse
from pipelines.tables import table
from pipelines.topology import load_topology

GROUP = "ingest"
BATCH_FILES = dg.AssetKey(["governance", "batch_files"])
DIVISIONS = dg.AssetKey(["governance", "divisions"])


def raw_key(dataset: str) -> dg.AssetKey:
    return dg.AssetKey([RAW_SCHEMA, dataset])


@dg.asset(
    key=DIVISIONS,
    group_name=GROUP,
    kinds={"postgres", "yaml"},
    owners=["team:data-office"],
    description="partitions.yaml → governance.divisions: the county's valid division codes.",
)
def county_divisions(context: dg.AssetExecutionContext, warehouse: Warehouse
                     ) -> dg.MaterializeResult:
    topology = load_topology()
    with warehouse.connect() as conn:
        ensure_schemas(conn)
        n = sync_divisions(conn, topology)
    return dg.MaterializeResult(metadata={
        "county": f"{topology.county_code} {topology.county_name}",
        "towns": len(topology.towns), "villages": len(topology.villages), "divisions": n,
    })


_SPECS = [
    dg.AssetSpec(
        raw_key(name),
        description=f"{d.label} ({d.source}, {d.mode}): every record of every loaded file, "
        "as delivered. Plots per batch date: rows received, loaded and kept aside (observed once "
        "staging has judged them).",
        kinds={"postgres", "csv"},
        owners=["team:data-engineering"],
        deps=[DIVISIONS],
        skippable=True,
    )
    for name, d in DATASETS.items()
] + [
    dg.AssetSpec(
        BATCH_FILES,
        description="One row per delivered file: loaded, rejected (with reason), superseded, or unlisted.",
        kinds={"postgres"},
        owners=["team:data-engineering"],
        deps=[DIVISIONS],
        skippable=True,
    )
]


def outcomes_table(outcomes: list[FileOutcome]) -> dg.TableMetadataValue:
    return table(["source", "date", "file", "status", "reason", "rows declared", "records stored"],
                    [(o.source, o.batch_date, o.path, o.status, o.reason, o.rows_received, o.records_stored)
                     for o in outcomes])


def _days(context: dg.AssetExecutionContext) -> list[dt.date]:
    window = context.partition_time_window
    start = window.start.date()
    end = window.end.date()
    return [start + dt.timedelta(days=i) for i in range((end - start).days)]


@dg.multi_asset(
    specs=_SPECS,
    name="ingest_batches",
    group_name=GROUP,
    partitions_def=batch_dates,
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=True,
    pool=WAREHOUSE_POOL,
)
def ingest_batches(context: dg.AssetExecutionContext, warehouse: Warehouse, landing: Landing):
    """Verify manifests, decode, check headers, COPY each complete batch of the dates."""
    selected = {k for k in context.selected_asset_keys if k != BATCH_FILES}
    datasets = [name for name in DATASETS if raw_key(name) in selected]
    by_dataset: dict[str, list[FileOutcome]] = defaultdict(list)
    everything: list[FileOutcome] = []
    with warehouse.connect() as conn:
        ensure_schemas(conn)
        for day in _days(context):
            outcomes = ingest_day(conn, landing.root, day, datasets)
            everything += outcomes
            for o in outcomes:
                by_dataset[o.dataset].append(o)
    for o in everything:
        if o.status == "rejected":
            context.log.warning(f"rejected {o.source}/{o.batch_date}/{o.path}: {o.reason}: "
                                f"{o.message}")
    for name in datasets:
        outs = by_dataset.get(name, [])
        yield dg.MaterializeResult(
            asset_key=raw_key(name),
            metadata={
                "files": outcomes_table(outs),
                "files_loaded": sum(o.status == "loaded" for o in outs),
                "files_rejected": sum(o.status == "rejected" for o in outs),
                "records_stored": sum(o.records_stored for o in outs),
            },
        )
    if BATCH_FILES in context.selected_asset_keys:
        yield dg.MaterializeResult(
            asset_key=BATCH_FILES,
            metadata={
                "files": outcomes_table(everything),
                "rejected": sum(o.status == "rejected" for o in everything),
                "unknown_or_foreign_files": sum(o.dataset not in DATASETS for o in everything),
            },
        )
