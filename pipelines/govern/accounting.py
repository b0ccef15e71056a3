"""After staging: write each file's loaded and kept-aside counts back to batch_files.

rows_loaded is counted from the staged rows that passed every rule, rows_kept_aside from
governance.kept_aside_rows — never one derived from the other — so the check
received = loaded + kept aside can fail. `unbalanced_files` is that check's one query: the
asset check below and the publish gate (pipelines/gates/files.py) both ask it.
"""

import datetime as dt

import dagster as dg
import psycopg

from pipelines.clock import batch_dates
from pipelines.naming import RAW_SCHEMA
from pipelines.resources import Warehouse
from pipelines.tables import table

KEY = dg.AssetKey(["governance", "batch_file_accounts"])
FILE_ROW_COUNTS = dg.AssetKey(["governance", "file_row_counts"])
KEPT_ASIDE = dg.AssetKey(["governance", "kept_aside_rows"])

UPDATE_COUNTS = """
UPDATE governance.batch_files b
SET rows_loaded = c.rows_loaded, rows_kept_aside = c.rows_kept_aside, counted_at = now()
FROM governance.file_row_counts c
WHERE b.file_id = c.file_id AND b.status IN ('loaded', 'superseded')
  AND ((b.rows_loaded, b.rows_kept_aside) IS DISTINCT FROM (c.rows_loaded, c.rows_kept_aside)
       OR b.counted_at IS NULL)
RETURNING b.dataset, b.batch_date
"""

UNBALANCED = """
SELECT source, batch_date::text, dataset, path, rows_received, rows_loaded, rows_kept_aside
FROM governance.batch_files
WHERE status IN ('loaded', 'superseded') AND rows_received IS DISTINCT FROM rows_loaded + rows_kept_aside
ORDER BY batch_date, source, dataset
"""

# Per (dataset, batch date) of the files just counted: the numbers the raw assets plot.
BY_DATASET_AND_DATE = """
SELECT dataset, batch_date,
       coalesce(sum(rows_received) FILTER (WHERE status <> 'superseded'), 0)::int AS received,
       coalesce(sum(rows_loaded) FILTER (WHERE status = 'loaded'), 0)::int AS loaded,
       coalesce(sum(rows_kept_aside) FILTER (WHERE status = 'loaded'), 0)::int AS kept_aside,
       count(*) FILTER (WHERE status = 'rejected')::int AS files_rejected
FROM governance.batch_files
WHERE (dataset, batch_date) IN (SELECT * FROM unnest(%s::text[], %s::date[]))
GROUP BY 1, 2 ORDER BY 1, 2
"""

BY_DATASET = """
SELECT dataset,
       coalesce(sum(rows_received) FILTER (WHERE status <> 'superseded'), 0)::bigint AS received,
       coalesce(sum(rows_loaded) FILTER (WHERE status = 'loaded'), 0)::bigint AS loaded,
       coalesce(sum(rows_kept_aside) FILTER (WHERE status = 'loaded'), 0)::bigint AS kept_aside,
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


def update_counts(conn: psycopg.Connection) -> set[tuple[str, dt.date]]:
    """Write the counts back; the (dataset, batch date) pairs of files counted for the first time or
    whose counts changed (a rule fixed and re-run)."""
    return set(conn.execute(UPDATE_COUNTS).fetchall())


def observations(conn: psycopg.Connection, changed: set[tuple[str, dt.date]]) -> list[dg.AssetObservation]:
    """One observation per raw dataset and batch date whose counts changed: rows received, loaded and
    kept aside as numbers on the dataset's partition, so its asset page plots them per batch date."""
    pairs = sorted(changed)
    rows = conn.execute(BY_DATASET_AND_DATE, ([d for d, _ in pairs], [b for _, b in pairs])).fetchall()
    return [dg.AssetObservation(
        asset_key=dg.AssetKey([RAW_SCHEMA, dataset]), partition=_partition(day),
        metadata={"rows received": received, "rows loaded": loaded, "rows kept aside": kept,
                  "files rejected": rejected})
        for dataset, day, received, loaded, kept, rejected in rows]


def _partition(day: dt.date) -> str | None:
    """The batch date's partition of the raw assets, when the schedule has it (a date before the
    first batch date is loaded by `huiliu run` but is no partition)."""
    key = day.isoformat()
    last = batch_dates.get_last_partition_key()
    return key if batch_dates.start.date().isoformat() <= key and (last is None or key <= last) else None


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
        changed = update_counts(conn)
        dates = [r[0] for r in conn.execute(
            "SELECT DISTINCT batch_date FROM governance.batch_files").fetchall()]
        per_dataset = conn.execute(BY_DATASET, (dates,)).fetchall()
        reasons = conn.execute(REASONS, (dates,)).fetchall()
        unbalanced = unbalanced_files(conn)
        for observation in observations(conn, changed):
            context.log_event(observation)
    return dg.MaterializeResult(
        metadata={
            "batch dates updated": len({day for _, day in changed}),
            "rows_by_dataset": table(["dataset", "received", "loaded", "kept aside", "files rejected"],
                                     per_dataset),
            "kept_aside_reasons": table(["dataset", "reason", "rows"], reasons),
            "rows kept aside": sum(r[3] for r in per_dataset),
            "unbalanced_files": len(unbalanced),
        },
    )


@dg.asset_check(asset=KEY, blocking=True, description="received = loaded + kept aside, per file")
def files_reconcile(warehouse: Warehouse) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        unbalanced = unbalanced_files(conn)
    return dg.AssetCheckResult(
        passed=not unbalanced,
        metadata={"unbalanced": table(UNBALANCED_COLUMNS, unbalanced)},
    )
