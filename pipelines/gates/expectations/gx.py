"""Great Expectations, run inside PostgreSQL: one validation per relation, several at once.

One ephemeral GX context set up on the calling thread; every table is validated once with
the union of the suites that apply to it (its tier's suite and its dataset's) and to its
twins (views showing its rows under another audience's name, pipelines/twins.py), and the
results are split back into one GateResult per suite × relation. Result format BOOLEAN_ONLY:
GX computes aggregates in the database (one bundled query per relation plus uniqueness and
custom queries) and never fetches a row; a failure is then probed by probes.py.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from pipelines.gates.base import GateResult
from pipelines.gates.expectations.probes import probe, redact
from pipelines.gates.expectations.suites import (
    ParameterError,
    Parameters,
    Relation,
    Suite,
    expand,
    label,
    load_suites,
    resolve_parameters,
)
from pipelines.govern.policy import Policy
from pipelines.paths import PROJECT_ROOT
from pipelines.twins import twin_tables
from pipelines.warehouse import url_of

RESULT_FORMAT = "BOOLEAN_ONLY"

_GX: dict[str, Any] = {}
_GX_LOCK = threading.Lock()


def _gx() -> Any:
    """great_expectations, imported once (5 s) and with the count-only query expectation registered."""
    with _GX_LOCK:
        if "gx" not in _GX:
            _GX.update(_import_gx())
    return _GX["gx"]


def _import_gx() -> dict[str, Any]:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    class ExpectQueryToReturnNoRows(gx.expectations.UnexpectedRowsExpectation):
        """UnexpectedRowsExpectation that asks the database for the count only, never the rows."""

        metric_dependencies = ("unexpected_rows_query.row_count",)

        def _validate(self, metrics: dict, runtime_configuration: dict | None = None,
                      execution_engine: Any = None) -> dict:
            count = metrics["unexpected_rows_query.row_count"]
            return {"success": count == 0, "result": {"observed_value": count}}

    for name in ("great_expectations", "great_expectations.core", "great_expectations.expectations"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return {"gx": gx, "no_rows": ExpectQueryToReturnNoRows}


def warm_up() -> None:
    """Import Great Expectations now (it takes about 5 s) so the gate itself does not wait for it."""
    _gx()


def sqlalchemy_url(conn: psycopg.Connection) -> str:
    """conn's database as a SQLAlchemy URL over TCP (GX's add_postgres rejects socket-only URLs)."""
    host = conn.info.host or ""
    if not host or host.startswith("/"):
        raise ValueError(f"the expectation gate needs a TCP host, the connection uses {host or 'a socket'!r}")
    return "postgresql+psycopg2" + url_of(conn).removeprefix("postgresql")


def gate_workers() -> int:
    """Relations validated at once: HUILIU_GATE_WORKERS, else one per core (2–4)."""
    configured = os.environ.get("HUILIU_GATE_WORKERS", "")
    return max(1, int(configured)) if configured.isdigit() else min(4, max(2, os.cpu_count() or 2))


def validate_relations(conn: psycopg.Connection, relations: Sequence[Relation], params: Parameters, *,
                       policy: Policy | None = None, suites: Sequence[Suite] | None = None,
                       log: Callable[[str], None] = lambda _m: None,
                       workers: int | None = None) -> list[GateResult]:
    """Validate each relation in the database against its suites; one GateResult per suite × relation.

    The database does the work (one scan per relation and a few aggregates), so relations are
    validated on several connections at once; the largest go first to balance the workers.
    The threads share nothing of GX's that changes: every `$PARAMETER` is resolved here, on
    the calling thread, before any worker starts (GX's own parameter parser is one pyparsing
    grammar per process, not thread-safe), and each worker validates through a datasource,
    hence an execution engine, of its own.
    """
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    policy = policy or Policy.from_catalog(conn)
    suites = list(suites) if suites is not None else load_suites()
    by_name = {s.name: s for s in suites}
    results: dict[int, list[GateResult]] = {}
    planned: list[tuple[int, Relation, Plan]] = []
    for i, rel in enumerate(relations):
        plan = [(s, cfgs) for s in suites if (cfgs := expand(s, rel, policy))]
        if not plan:
            results[i] = [GateResult(f"expectations@{rel.name}", False, f"no suite applies to {rel.qualified}",
                                     identity(rel, None))]
            continue
        try:
            values = params.for_relation(rel)
            plan = [(s, [resolve_parameters(c, values) for c in cfgs]) for s, cfgs in plan]
        except ParameterError as exc:
            results[i] = _unvalidated(rel, plan, str(exc))
            continue
        planned.append((i, rel, plan))
    jobs = _jobs(conn, planned, gx)
    jobs.sort(key=lambda j: _size(conn, j.validated), reverse=True)
    count = min(workers or gate_workers(), len(jobs)) or 1

    ctx = gx.get_context(mode="ephemeral")  # set up on this thread only
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    url = sqlalchemy_url(conn)
    engines: queue.SimpleQueue[tuple[Any, dict[int, Any]]] = queue.SimpleQueue()
    for w in range(count):  # a datasource per worker: each its own engine, inspector and batches
        source = ctx.data_sources.add_postgres(f"huiliu_version_{w}", connection_string=url)
        engines.put((source, {n: source.add_table_asset(j.validated.name, table_name=j.validated.name,
                                                        schema_name=j.validated.schema
                                                        ).add_batch_definition_whole_table("whole")
                              for n, j in enumerate(jobs)}))

    def run(n: int) -> list[tuple[int, list[GateResult]]]:
        job = jobs[n]
        t = time.monotonic()
        engine = engines.get()  # never waits: as many engines as workers
        try:
            outcome = engine[1][n].get_batch().validate(job.suite, result_format=RESULT_FORMAT)
        except Exception as exc:  # a relation GX cannot validate fails its suites, not the run
            error = redact(f"{type(exc).__name__}: {exc}")
            return [(i, _unvalidated(rel, plan, error)) for i, rel, plan in job.members]
        finally:
            engines.put(engine)
        by_key = {r.expectation_config.meta["huiliu"]["key"]: r for r in outcome.results}
        failed = not all(r.success for r in outcome.results)
        out = []
        # probing failures needs a connection of this thread's own
        with (psycopg.connect(conn.info.dsn, password=conn.info.password, autocommit=True) if failed
              else contextlib.nullcontext()) as probe_conn:
            for i, rel, plan in job.members:
                out.append((i, [_suite_result(probe_conn, by_name[s.name], rel,
                                              [_Seen(by_key[_signature(c)], c) for c in cfgs], params)
                                for s, cfgs in plan]))
        also = f" (also for {', '.join(r.name for _, r, _ in job.members if r != job.validated)})" \
            if len(job.members) > 1 else ""
        log(f"expectations {job.validated.qualified}{also}: {len(outcome.results)} in "
            f"{time.monotonic() - t:.2f} s")
        return out

    try:
        with ThreadPoolExecutor(max_workers=count, thread_name_prefix="huiliu-gx") as pool:
            for done in pool.map(run, range(len(jobs))):
                results.update(done)
    finally:
        while not engines.empty():
            engines.get()[0].get_execution_engine().close()  # the engines' pooled connections
    return [r for i in sorted(results) for r in results[i]]


Plan = list[tuple[Suite, list[dict[str, Any]]]]


@dataclass
class _Job:
    """One GX validation: a relation's table, for it and every twin that shows the same rows."""

    validated: Relation
    members: list[tuple[int, Relation, Plan]]
    suite: Any = None


@dataclass(frozen=True)
class _Seen:
    """A validation result as one member relation's suite reads it: its outcome, its own config."""

    result: Any
    config: dict[str, Any]

    @property
    def success(self) -> bool:
        return bool(self.result.success)

    @property
    def exception_info(self) -> Any:
        return self.result.exception_info

    @property
    def expectation_config(self) -> _Seen:
        return self

    def to_json_dict(self) -> dict[str, Any]:
        return self.config


def _signature(cfg: Mapping[str, Any]) -> str:
    """What an expectation checks (type and resolved kwargs): equal signatures, one evaluation."""
    return json.dumps({"type": cfg["type"], "kwargs": cfg.get("kwargs", {})}, sort_keys=True, default=str)


def _jobs(conn: psycopg.Connection, planned: Sequence[tuple[int, Relation, Plan]], gx: Any) -> list[_Job]:
    """Group relations by the table whose rows they show (a twin and its table: one scan), each
    group validated with the union of its members' expectations, an expectation once however
    many suites and members ask for it."""
    rels = {(rel.schema, rel.name): rel for _, rel, _ in planned}
    twins: dict[tuple[str, str], tuple[str, str]] = {}
    for schema in sorted({rel.schema for _, rel, _ in planned}):
        names = [r.name for (s, _), r in rels.items() if s == schema]
        for view, table in twin_tables(conn, schema, names).items():
            if (schema, table) in rels:
                twins[(schema, view)] = (schema, table)
    jobs: dict[tuple[str, str], _Job] = {}
    for i, rel, plan in planned:
        key = twins.get((rel.schema, rel.name), (rel.schema, rel.name))
        jobs.setdefault(key, _Job(rels[key], [])).members.append((i, rel, plan))
    for job in jobs.values():
        merged: dict[str, dict[str, Any]] = {}
        for _, _, plan in job.members:
            for _, cfgs in plan:
                for c in cfgs:
                    key = _signature(c)
                    if key not in merged:
                        first = copy.deepcopy(c)
                        first.setdefault("meta", {}).setdefault("huiliu", {})["key"] = key
                        merged[key] = first
        job.suite = gx.ExpectationSuite(name=job.validated.name, expectations=list(merged.values()))
    return list(jobs.values())


def _unvalidated(rel: Relation, plan: Sequence[tuple[Suite, Any]], error: str) -> list[GateResult]:
    """Every suite of a relation that could not be validated fails, naming why."""
    summary = f"could not validate {rel.qualified}: {error}"
    return [GateResult(f"{s.name}@{rel.name}", False, summary, {**identity(rel, s), "error": error})
            for s, _ in plan]


def identity(rel: Relation, suite: Suite | None) -> dict[str, Any]:
    """What a suite × relation result is about, as data (reports group by it, never parse names)."""
    return {"relation": rel.qualified, "relation_name": rel.name, "tier": rel.source.tier,
            "suite_name": suite.name if suite else None, "suite_kind": suite.kind if suite else None}


def _size(conn: psycopg.Connection, rel: Relation) -> int:
    """Pages of a relation (0 for a view): how long its scan will take, roughly."""
    row = conn.execute("SELECT relpages FROM pg_class WHERE oid = to_regclass(%s)",
                       (sql.Identifier(rel.schema, rel.name).as_string(conn),)).fetchone()
    return int(row[0]) if row and row[0] else 0


def _suite_result(conn: psycopg.Connection | None, suite: Suite, rel: Relation, rs: list[Any],
                  params: Parameters) -> GateResult:
    failed = []
    for r in rs:
        if r.success:
            continue
        cfg = r.expectation_config.to_json_dict()
        entry: dict[str, Any] = {"expectation": label(cfg), "relation": rel.qualified, "tier": rel.source.tier,
                                 "why": cfg.get("meta", {}).get("notes", "")}
        error = _exception(r.exception_info)
        if error:
            entry["error"] = error
        elif conn is not None:
            entry.update(probe(conn, rel, cfg, params.for_relation(rel)))
        failed.append(entry)
    name = f"{suite.name}@{rel.name}"
    details: dict[str, Any] = {
        **identity(rel, suite), "suite": str(suite.path.relative_to(PROJECT_ROOT))
        if suite.path.is_relative_to(PROJECT_ROOT) else str(suite.path),
        "evaluated": len(rs), "checked": [label(r.expectation_config.to_json_dict()) for r in rs]}
    if failed:
        details["failed"] = failed
        head = "; ".join(f"{f['expectation']}" for f in failed[:4]) + (" …" if len(failed) > 4 else "")
        return GateResult(name, False, f"{len(failed)} of {len(rs)} failed on {rel.qualified}: {head}", details)
    return GateResult(name, True, f"{len(rs)} expectations hold on {rel.qualified}", details)


def _exception(info: Mapping[str, Any] | None) -> str | None:
    """The exception GX caught for an expectation (flat or per metric), redacted."""
    if not info:
        return None
    found = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, Mapping)]
    for item in found:
        if item.get("raised_exception"):
            return redact(str(item.get("exception_message") or "error"))
    return None
