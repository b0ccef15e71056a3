"""The main dbt build as Dagster assets: every model but the tiers, downstream of the raw assets.

It runs under the publish lock (pipelines/lock.py): a publish reads intermediate, governance
and protected from its tier build to its last gate, and the UI's executor runs this step and
the publish step in separate processes, so without the lock another run's main build could
replace those tables in between. Serialized, the last publish always follows the last main
build, which follows every ingest: concurrent runs converge to the state of all batches.
"""

import os

import dagster as dg
import psycopg
from dagster_dbt import DbtCliResource, dbt_assets

from pipelines.crashpoints import crash_point
from pipelines.govern.token_key import install_key, key_withheld
from pipelines.lock import PublishLock
from pipelines.progress import step
from pipelines.resources import WAREHOUSE_POOL, Warehouse
from pipelines.tiers import parse_cache
from pipelines.tiers.project import HuiliuTranslator, dbt_project, prepare_manifest
from pipelines.tiers.specs import TIERS_SELECTION

# dagster-dbt names each model's output after its asset key
WARNINGS_OUTPUT = dg.AssetKey(["protected", "prot_collision_warnings"]).to_python_identifier()


def warning_metadata(conn: psycopg.Connection) -> dict[str, int]:
    """The warnings of this build as numbers the asset page plots across runs: per rule and severity
    (acknowledged ones apart), new and resolved on this batch date. Counts only, never a subject."""
    rows = conn.execute(
        "SELECT rule, severity, status, (status = 'resolved' AND resolved_on = as_of) AS resolved_today, "
        "acknowledged, count(*) FROM protected.prot_collision_warnings GROUP BY 1, 2, 3, 4, 5").fetchall()
    meta: dict[str, int] = {"warnings new today": 0, "warnings resolved today": 0, "warnings open": 0,
                            "warnings acknowledged": 0, "warnings red": 0, "warnings yellow": 0}
    for rule, severity, status, resolved_today, acknowledged, n in rows:
        if acknowledged:
            meta["warnings acknowledged"] += n
            continue
        meta["warnings new today"] += n if status == "new" else 0
        meta["warnings resolved today"] += n if resolved_today else 0
        if status in ("new", "open"):
            meta["warnings open"] += n
            meta[f"warnings {severity}"] += n
            meta[f"rule {rule}"] = meta.get(f"rule {rule}", 0) + n
    return meta


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
        with step("dbt", total=len(context.selected_asset_keys), detail="staging → governance → ledgers"
                  ) as advance:
            for i, event in enumerate(invocation.stream()):
                if i == 0:
                    crash_point("dbt")  # test-only: dbt is running
                if isinstance(event, dg.Output) and event.output_name == WARNINGS_OUTPUT:
                    with warehouse.connect() as conn:
                        event = event.with_metadata({**event.metadata, **warning_metadata(conn)})
                if isinstance(event, dg.Output):
                    advance(event.output_name)
                yield event
    if invocation.is_successful():
        parse_cache.keep(target, url)
