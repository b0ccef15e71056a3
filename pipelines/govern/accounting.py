"""After staging: write each file's loaded and kept-aside counts back to batch_files.

rows_loaded is counted from the staged rows that passed every rule, rows_kept_aside from
governance.kept_aside_rows — never one derived from the other — so the check
received = loaded + kept aside can fail. `unbalanced_files` is that check's one query: the
asset check below and the publish gate (pipelines/gates/files.py) both ask it.
"""

import dagster as dg
import psycopg

from pipelines.resources import Warehouse
from pipelines.tables import markdown

KEY = dg.AssetKey(["governance", "batch_file_accounts"])
FILE_ROW_COUNTS = dg.AssetKey(["governance", "file_row_counts"])
KEPT_ASIDE = dg.AssetKey(["governance", "kept_aside_rows"])

UPDATE_COUNTS = """
UPDATE governance.batch_files b
SET rows_loaded = c.rows_loaded, rows_kept_aside = c.rows_kept_aside
FROM governance.file_row_counts c
WHERE b.file_id = c.file_id AND b.status IN ('loaded', 'superseded')
  AND (b.rows_loaded, b.rows_kept_aside) IS DISTINCT FROM (c.rows_loaded, c.rows_kept_aside)
"""

UNBALANCED = """
SELECT source, batch_date::text, dataset, path, rows_received, rows_loaded, rows_kept_aside
FROM governance.batch_files
WHERE status IN ('loaded', 'superseded') AND rows_received IS DISTINCT FROM rows_loaded + rows_kept_aside
ORDER BY batch_date, source, dataset
"""

BY_DATASET = """
SELECT dataset,
       sum(rows_received) FILTER (WHERE status <> 'superseded') AS received,
       sum(rows_loaded) FILTER (WHERE status = 'loaded') AS loaded,
       sum(rows_kept_aside) FILTER (WHERE status = 'loaded') AS kept_aside,
       count(*) FILTER (WHERE status = 'rejected') AS files_rejected
FROM governance.batch_files
WHERE batch_date = ANY(%s)
GROUP BY dataset ORDER BY dataset
"""

REASONS = """
SELECT k.dataset, k.reason, count(*)
FROM governance.kept_aside_rows k
JOIN governance.batch_files b USING (file_id)
WHERE b.status = 'loaded' AND b.batch_date = ANY(%s)
GROUP BY 1, 2 ORDER BY 1, 2
"""


def update_counts(conn: psycopg.Connection) -> int:
    return conn.execute(UPDATE_COUNTS).rowcount


UNBALANCED_COLUMNS = ("source", "batch_date", "dataset", "file", "received", "loaded", "kept_aside")


def unbalanced_files(conn: psycopg.Connection) -> list[tuple]:
    """Files that were not rejected and whose received ≠ loaded + kept aside (UNBALANCED_COLUMNS)."""
    return conn.execute(UNBALANCED).fetchall()


@dg.asset(
    key=KEY,
    deps=[FILE_ROW_COUNTS, KEPT_ASIDE],
    group_name="governance",
    kinds={"postgres"},
    owners=["team:data-engineering"],
    description="batch_files with rows loaded and kept aside per file, reconciled.",
)
def batch_file_accounts(context: dg.AssetExecutionContext, warehouse: Warehouse
                        ) -> dg.MaterializeResult:
    with warehouse.connect() as conn:
        updated = update_counts(conn)
        dates = [r[0] for r in conn.execute(
            "SELECT DISTINCT batch_date FROM governance.batch_files").fetchall()]
        per_dataset = conn.execute(BY_DATASET, (dates,)).fetchall()
        reasons = conn.execute(REASONS, (dates,)).fetchall()
        unbalanced = unbalanced_files(conn)
    return dg.MaterializeResult(
        metadata={
            "files_updated": updated,
            "rows_by_dataset": dg.MetadataValue.md(markdown(
                ["dataset", "received", "loaded", "kept aside", "files rejected"], per_dataset)),
            "kept_aside_reasons": dg.MetadataValue.md(markdown(
                ["dataset", "reason", "rows"], reasons)),
            "unbalanced_files": len(unbalanced),
        },
    )


@dg.asset_check(asset=KEY, blocking=True, description="received = loaded + kept aside, per file")
def files_reconcile(warehouse: Warehouse) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        unbalanced = unbalanced_files(conn)
    return dg.AssetCheckResult(
        passed=not unbalanced,
        metadata={"unbalanced": dg.MetadataValue.md(markdown(UNBALANCED_COLUMNS, unbalanced))
                  if unbalanced else "none"},
    )
