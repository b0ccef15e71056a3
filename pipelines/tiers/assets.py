"""The main dbt build as Dagster assets: every model but the tiers, downstream of the raw assets."""

import os

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from pipelines.govern.token_key import install_key, key_withheld
from pipelines.resources import WAREHOUSE_POOL, Warehouse
from pipelines.tiers.project import HuiliuTranslator, dbt_project, prepare_manifest
from pipelines.tiers.specs import TIERS_SELECTION


@dbt_assets(
    manifest=prepare_manifest(),
    project=dbt_project,
    dagster_dbt_translator=HuiliuTranslator(),
    exclude=TIERS_SELECTION,  # built by publish_warehouse, inside the publish lock
    pool=WAREHOUSE_POOL,
)
def huiliu_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource,
                      warehouse: Warehouse):
    """One `dbt build` over the selected models: few invocations, partial parsing kept."""
    os.environ.update(warehouse.dbt_env())
    with warehouse.connect() as conn:
        install_key(conn)  # the token key reaches the server as a bind parameter, never as SQL
    # dbt unit tests run in `make test`, not in every production build.
    args = ["build", "--exclude-resource-type", "unit_test"]
    with key_withheld():  # dbt's process starts without the token key
        invocation = dbt.cli(args, context=context)
    yield from invocation.stream()
