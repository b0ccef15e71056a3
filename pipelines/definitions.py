"""The Dagster Definitions of huiliu, assembled from one module per concern.

ingest (raw assets, sensor, schedule) → tiers (the dbt build) → govern (file accounting) →
publish (tier build, gates, switch): the same Definitions `huiliu run` executes and `make ui`
serves (workspace.yaml).
"""

from __future__ import annotations

import dagster as dg

from pipelines.govern.accounting import batch_file_accounts, files_reconcile
from pipelines.govern.audit_assets import audit_job, hourly_audit, read_audit
from pipelines.ingest.assets import county_divisions, ingest_batches
from pipelines.ingest.schedules import build_nightly_schedule
from pipelines.ingest.sensors import build_landing_sensor
from pipelines.publish.assets import publish_warehouse
from pipelines.publish.warnings import SOURCE_SPECS as WARNING_SOURCES
from pipelines.resources import Landing, Warehouse
from pipelines.tiers.assets import huiliu_dbt_models
from pipelines.tiers.project import dbt_resource

# One job for a batch date: ingest it, transform, reconcile, build the tiers, gate, publish.
batch_job = dg.define_asset_job(
    "batch_job",
    selection=dg.AssetSelection.all(),
    description="Ingest the batches of one date and rebuild the governed warehouse.",
)

# Everything after ingestion, from the raw history as it stands: a re-run after a fix, or the one
# publish that re-keys every token after `huiliu rotate-key`.
rebuild_job = dg.define_asset_job(
    "rebuild_job",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("ingest"),
    description="Rebuild the governed warehouse from the raw history, without ingesting.",
)

defs = dg.Definitions(
    assets=[county_divisions, ingest_batches, huiliu_dbt_models, batch_file_accounts,
            publish_warehouse, read_audit, *WARNING_SOURCES],
    asset_checks=[files_reconcile],
    jobs=[batch_job, rebuild_job, audit_job],
    schedules=[build_nightly_schedule(batch_job), hourly_audit],
    sensors=[build_landing_sensor(batch_job)],
    resources={"warehouse": Warehouse(), "landing": Landing(), "dbt": dbt_resource},
)
