"""The Dagster Definitions of huiliu, assembled from one module per concern.

ingest (raw assets, sensor, schedule) → tiers (the dbt build) → govern (file accounting) →
publish (tier build, gates, switch): the same Definitions `huiliu run` executes and `make ui`
serves (workspace.yaml).
"""

from __future__ import annotations

import dagster as dg

from pipelines.govern.accounting import batch_file_accounts, files_reconcile
from pipelines.ingest.assets import county_divisions, ingest_batches
from pipelines.ingest.schedules import build_nightly_schedule
from pipelines.ingest.sensors import build_landing_sensor
from pipelines.publish.assets import publish_warehouse
from pipelines.resources import Landing, Warehouse
from pipelines.tiers.assets import huiliu_dbt_models
from pipelines.tiers.project import dbt_resource

# One job for a batch date: ingest it, transform, reconcile, build the tiers, gate, publish.
batch_job = dg.define_asset_job(
    "batch_job",
    selection=dg.AssetSelection.all(),
    description="Ingest the batches of one date and rebuild the governed warehouse.",
)

defs = dg.Definitions(
    assets=[county_divisions, ingest_batches, huiliu_dbt_models, batch_file_accounts,
            publish_warehouse],
    asset_checks=[files_reconcile],
    jobs=[batch_job],
    schedules=[build_nightly_schedule(batch_job)],
    sensors=[build_landing_sensor(batch_job)],
    resources={"warehouse": Warehouse(), "landing": Landing(), "dbt": dbt_resource},
)
