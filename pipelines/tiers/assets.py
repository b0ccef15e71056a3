"""The main dbt build as Dagster assets: every model but the tiers, downstream of the raw assets.

It runs under the publish lock (pipelines/lock.py): a publish reads intermediate, governance
and protected from its tier build to its last gate, and the UI's executor runs this step and
the publish step in separate processes, so without the lock another run's main build could
replace those tables in between. Serialized, the last publish always follows the last main
build, which follows every ingest: concurrent runs converge to the state of all batches.
"""

import os

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from pipelines.crashpoints import crash_point
from pipelines.govern.token_key import install_key, key_withheld
from pipelines.lock import PublishLock
from pipelines.resources import WAREHOUSE_POOL, Warehouse
from pipelines.tiers import parse_cache
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
    url = warehouse.resolved_url()
    target = parse_cache.new_target("huiliu_dbt_models", url)
    with PublishLock(url, wait=None, label=f"huiliu dbt build {context.run_id}",
                     log=context.log.info), key_withheld():  # dbt's process starts without the token key
        invocation = dbt.cli(args, context=context, target_path=target)
        for i, event in enumerate(invocation.stream()):
            if i == 0:
                crash_point("dbt")  # test-only: dbt is running
            yield event
    if invocation.is_successful():
        parse_cache.keep(target, url)
