"""Benchmark: generate a batch of N people and run it through the real Definitions.

Runs in its own database (`huiliu_bench`) on the project's server and prints the wall time
of generation, of each Dagster step and of the whole run, with rows per second of
ingestion and the gates' share. It runs `run_batch_date`, the function `huiliu run` runs, with
the same gate settings (HUILIU_GATE_WORKERS or its default), so what it measures is what a
night costs; a refused publish fails the benchmark and prints the failed gates.
Usage: python benchmarks/bench_pipeline.py [--people 1000000] [--date 2026-11-01]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import time

import dagster as dg

from pipelines.paths import STATE_DIR
from pipelines.tables import table_markdown
from pipelines.warehouse import database_url, drop_database, ensure_database, with_database


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--date", default="2026-11-01")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    base = database_url()
    admin = with_database(base, "postgres")
    drop_database(admin, "huiliu_bench")
    ensure_database(admin, "huiliu_bench")
    os.environ["HUILIU_DATABASE_URL"] = with_database(base, "huiliu_bench")
    os.environ.setdefault("HUILIU_TOKEN_KEY", "benchmark-token-key-not-a-secret")

    from huiliu_dev.generate import generate
    from pipelines.runner import run_batch_date

    landing = STATE_DIR / "bench" / "landing"
    shutil.rmtree(landing, ignore_errors=True)
    day = dt.date.fromisoformat(args.date)
    started = time.perf_counter()
    summary = generate(landing, day, people=args.people, seed=args.seed)
    generated = time.perf_counter() - started
    rows = sum(f["rows"] for f in summary["files"].values())
    print(f"generate: {args.people:,} people, {rows:,} rows in {generated:.1f} s")

    from pipelines.gates.expectations import gate_workers

    print(f"gates: suites validated on {gate_workers()} workers "
          f"(HUILIU_GATE_WORKERS={os.environ.get('HUILIU_GATE_WORKERS', 'unset: one per core, 2-4')})")
    instance = dg.DagsterInstance.ephemeral()
    started = time.perf_counter()
    report = run_batch_date(landing, day, log_level="ERROR", instance=instance)
    total = time.perf_counter() - started
    print(report.render())
    print(f"run (ingest + dbt + tiers + gates + publish): {total:.1f} s wall; "
          f"{rows / total:,.0f} rows/s end to end")
    for step in instance.get_run_step_stats(report.run_id):
        if step.start_time and step.end_time:
            print(f"  step {step.step_key}: {step.end_time - step.start_time:.1f} s ({step.status.value})")
    published = instance.get_latest_materialization_event(dg.AssetKey(["publish", "warehouse"]))
    if published is not None:
        timings = published.asset_materialization.metadata.get("timings")
        print("publish timings (s):\n" + (table_markdown(timings) if timings else "none"))
        gates = _seconds(timings, "gates") if timings else None
        if gates is not None:
            print(f"gates: {gates:.1f} s, {gates / total:.0%} of the run")
    screened = 0.0  # the screening models of the main build (hits over the ledgers, ids, lifecycle)
    for name in ("prot_screening_hits", "prot_warning_ids", "prot_collision_warnings"):
        event = instance.get_latest_materialization_event(dg.AssetKey(["protected", name]))
        duration = event.asset_materialization.metadata.get("Execution Duration") if event else None
        screened += float(duration.value) if duration else 0.0
    print(f"screenings (dbt models prot_screening_hits, prot_warning_ids, prot_collision_warnings): "
          f"{screened:.1f} s, {screened / total:.1%} of the run")
    print(f"peak RSS of this process: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if report.failure:
        print("\n".join(report.failure_details))
        raise SystemExit(report.failure)


def _seconds(table: dg.TableMetadataValue, step: str) -> float | None:
    """A step's seconds from the publish step's timings table (step, seconds)."""
    for record in table.records:
        if record.data.get("step") == step:
            return float(record.data["seconds"])
    return None


if __name__ == "__main__":
    main()
