"""Per-file accounting as a publish gate: received = loaded + kept aside, and the counts are current.

The asset check `files_reconcile` (govern/accounting.py) judges batch_files after staging;
the publish runs later (maybe in another run), so the gate asks again (the same query), and
also that batch_files' counts still agree with what staging holds now
(governance.file_row_counts), so a version is never published over a staging rebuild whose
accounts were not written back. Names and numbers only.
"""

from __future__ import annotations

import psycopg

from pipelines.gates.base import Candidate, GateResult
from pipelines.govern.accounting import UNBALANCED_COLUMNS, unbalanced_files

STALE = """
SELECT b.source, b.batch_date::text, b.dataset, b.path, b.rows_loaded, c.rows_loaded,
       b.rows_kept_aside, c.rows_kept_aside
FROM governance.batch_files b JOIN governance.file_row_counts c USING (file_id)
WHERE b.status = 'loaded'
  AND (b.rows_loaded, b.rows_kept_aside) IS DISTINCT FROM (c.rows_loaded, c.rows_kept_aside)
ORDER BY b.batch_date, b.source, b.dataset
"""

FILES = """
SELECT count(*), coalesce(sum(rows_received), 0)
FROM governance.batch_files WHERE status = 'loaded'
"""
NAME = "files_received_loaded_kept_aside"


def files_gate(conn: psycopg.Connection, version: Candidate) -> list[GateResult]:
    """Gate: every loaded file balances, and batch_files agrees with staging as it is now."""
    if conn.execute("SELECT to_regclass('governance.batch_files')").fetchone()[0] is None:
        return [GateResult(NAME, True, "no batch_files: nothing was ingested", {})]
    unbalanced = unbalanced_files(conn)
    has_counts = conn.execute("SELECT to_regclass('governance.file_row_counts')").fetchone()[0] is not None
    stale = conn.execute(STALE).fetchall() if has_counts else []
    files, rows = conn.execute(FILES).fetchone()
    details: dict[str, object] = {"loaded_files": files, "rows_received": rows}
    if unbalanced:
        details["unbalanced"] = [dict(zip(UNBALANCED_COLUMNS, r, strict=True)) for r in unbalanced]
    if stale:
        details["stale"] = [dict(zip(("source", "batch_date", "dataset", "file", "loaded", "loaded_in_staging",
                                      "kept_aside", "kept_aside_in_staging"), r, strict=True)) for r in stale]
    if unbalanced or stale:
        parts = []
        if unbalanced:
            parts.append(f"{len(unbalanced)} loaded file(s) where received ≠ loaded + kept aside")
        if stale:
            parts.append(f"{len(stale)} file(s) whose counts differ from staging")
        return [GateResult(NAME, False, "; ".join(parts), details)]
    summary = f"{files} loaded files: received = loaded + kept aside, as staging holds them"
    return [GateResult(NAME, True, summary, details)]
