"""The query audit in Dagster: an asset that reads pgaudit's new lines, run by every batch and hourly."""

import dagster as dg

from pipelines.clock import TIMEZONE
from pipelines.govern.audit import status, sync_read_audit
from pipelines.resources import Warehouse

READ_AUDIT = dg.AssetKey(["governance", "read_audit"])


@dg.asset(
    key=READ_AUDIT,
    group_name="governance",
    kinds={"postgres"},
    owners=["team:data-office"],
    description="Every read of a unit's relations (who, when, which relation; never statement text), "
    "from pgaudit's log into governance.read_audit.",
)
def read_audit(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    with warehouse.connect() as conn:
        audit = status(conn)
        added = sync_read_audit(conn) if audit.on else 0
        total = conn.execute("SELECT count(*) FROM governance.read_audit").fetchone()[0] if audit.on else 0
    if not audit.on:
        context.log.warning(audit.why)
    return dg.MaterializeResult(metadata={"audit": audit.why, "reads added": added, "reads recorded": total})


audit_job = dg.define_asset_job("read_audit_job", selection=dg.AssetSelection.assets(READ_AUDIT),
                                description="Read the server's audit log into governance.read_audit.")

hourly_audit = dg.ScheduleDefinition(
    name="read_audit_hourly", job=audit_job, cron_schedule="17 * * * *", execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every hour, the reads of units' relations since the last run into governance.read_audit.")
