"""The lineage gate: prove a candidate's tier relations from compiled SQL, and bind the proof to them.

The proof (trace.py) must describe what was built: every relation the candidate holds needs
compiled SQL whose output columns are the built ones, and the approved functions must exist
and not be executable by PUBLIC.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import psycopg

from pipelines.gates.base import Candidate, GateResult
from pipelines.gates.lineage.compile import Compilation
from pipelines.gates.lineage.proof import prove_with
from pipelines.gates.lineage.trace import APPROVED_FUNCTIONS, TIER_SCHEMA, Tracer
from pipelines.govern.policy import Policy


def _approved_in_database(conn: psycopg.Connection) -> list[str]:
    """Problems with the approved functions themselves: missing, or executable by PUBLIC."""
    rows = conn.execute(
        "SELECT n.nspname || '.' || p.proname, has_function_privilege('public', p.oid, 'EXECUTE') "
        "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'privacy'").fetchall()
    found = {name: public for name, public in rows}
    problems = [f"{f} is missing" for f in sorted(APPROVED_FUNCTIONS) if f not in found]
    problems += [f"{f} is executable by PUBLIC" for f in sorted(APPROVED_FUNCTIONS) if found.get(f)]
    return problems


def lineage_result(conn: psycopg.Connection, version: Candidate, models: Mapping[str, str],
                   origin: str) -> GateResult:
    """Prove the version's tier relations from `models`, and bind the proof to what was built."""
    t0 = time.monotonic()
    policy = Policy.from_catalog(conn)
    sources = list(version.sources)
    keys = [f"{TIER_SCHEMA}.{s.name}" for s in sources]
    tracer = Tracer(models)
    leaks = prove_with(tracer, policy, keys)
    mismatched: dict[str, str] = {}
    columns = 0
    for source, key in zip(sources, keys, strict=True):
        compiled = list(tracer.columns[key]) if key in tracer.sql and tracer.load(key) is not None else None
        built = version.columns(source)
        if compiled is None:
            mismatched[source.name] = "no compiled SQL for it"
        elif built is not None and compiled != list(built):
            mismatched[source.name] = f"compiled columns {compiled} differ from the built {list(built)}"
        columns += len(compiled or [])
    problems = _approved_in_database(conn)
    passed = not leaks and not mismatched and not problems
    details: dict[str, object] = {
        "relations": len(sources), "columns": columns, "compiled_from": origin,
        "approved_functions": sorted(APPROVED_FUNCTIONS), "seconds": round(time.monotonic() - t0, 2),
    }
    if leaks:
        details["leaks"] = [leak.as_json() for leak in leaks]
    if mismatched:
        details["not_bound"] = mismatched
    if problems:
        details["function_problems"] = problems
    if passed:
        summary = f"{columns} columns of {len(sources)} tier relations proven: every sensitive flow is masked"
    else:
        parts = []
        if leaks:
            parts.append(f"{len(leaks)} leak(s): " + "; ".join(leak.describe() for leak in leaks[:3])
                         + (" …" if len(leaks) > 3 else ""))
        if mismatched:
            parts.append(f"{len(mismatched)} relation(s) not described by the compiled SQL")
        if problems:
            parts.append("; ".join(problems))
        summary = " | ".join(parts)
    return GateResult("lineage_proof", passed, summary, details)


def finish_lineage(conn: psycopg.Connection, version: Candidate, compilation: Compilation) -> GateResult:
    """Wait for a background compile and prove the version's relations from it."""
    try:
        models = compilation.result()
    except RuntimeError as exc:
        return GateResult("lineage_proof", False, f"no compiled SQL to prove: {exc}", {})
    result = lineage_result(conn, version, models, str(compilation.target))
    result.details["compile_seconds"] = round(compilation.seconds, 2)
    return result
