"""Every gate of a publish: the reconciliation, then files, expectations and lineage overlapped.

The lineage proof needs a `dbt compile` (a subprocess, about 9 s) and the expectation suites
need Great Expectations (Python-bound, about 10 s for ~35 relations): the compile starts first
and runs while GX validates, so the two cost about the longer of them, not their sum.
"""

from __future__ import annotations

import threading

import psycopg

from pipelines.gates.base import Candidate, Gate, GateResult
from pipelines.gates.expectations import expectation_gate, warm_up
from pipelines.gates.files import files_gate
from pipelines.gates.lineage import Compilation, finish_lineage
from pipelines.gates.reconcile import current_state_gate, reconciliation_gate
from pipelines.gates.reidentify import reidentification_gate
from pipelines.progress import emit


def quality_gate(conn: psycopg.Connection, version: Candidate) -> list[GateResult]:
    """Gate: per-file accounting, every expectation suite, the re-identification attack, the lineage proof."""
    try:
        compilation: Compilation | None = Compilation(conn)
        starting = None
    except OSError as exc:
        compilation, starting = None, exc
    try:
        results = files_gate(conn, version)
        emit("gates", detail="files")
        results += expectation_gate(conn, version)
        emit("gates", detail="expectation suites")
        results += reidentification_gate(conn, version)
        emit("gates", detail="re-identification attack")
    except BaseException:
        if compilation is not None:
            compilation.cancel()
        raise
    if compilation is None:
        results.append(GateResult("lineage_proof", False, f"dbt compile could not start: {starting}", {}))
    else:
        results.append(finish_lineage(conn, version, compilation))
    emit("gates", detail="lineage proof")
    return results


def warm_up_in_background() -> threading.Thread:
    """Import Great Expectations (about 5 s) on a thread, e.g. while dbt builds the tiers."""
    thread = threading.Thread(target=warm_up, name="huiliu-gx-import", daemon=True)
    thread.start()
    return thread


# What a publish runs, in order: counts first (cheap, from the build), then the rest.
ALL_GATES: tuple[Gate, ...] = (reconciliation_gate, current_state_gate, quality_gate)
