"""Benchmark: generated batches through the real Definitions, against the COPY floor of the same files.

Each size runs in a fresh database (`huiliu_bench`) on the project's server: the night's batches
are generated, their files COPY'd into UNLOGGED text tables (the floor, measured in the same run),
then `run_batch_date` — the function `huiliu run` runs, with the same gate settings — takes them
through ingest, dbt, the tiers, the gates and the publish while the process tree's memory is
sampled. `--days N` runs N consecutive nights at each size (the history target: the last night
against the second); several `--people` give the marginal cost between sizes; `--units K` runs the
first size again on a county with K times the towns and villages (measure/units.py), on a local
server of its own. A refused publish
fails the benchmark and prints the failed gates. Results go to benchmarks/results/<date>.json and
a line per night to benchmarks/RESULTS.md.

Usage: python benchmarks/bench_pipeline.py [--people 100000,1000000] [--days 1] [--units 10] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time

import dagster as dg
from measure.floor import measure_floor
from measure.memory import PeakRSS
from measure.profile import PythonProfile, enable_statement_log, log_position, statement_profile, write
from measure.results import RESULTS_DIR, commit, machine, save

from pipelines.paths import STATE_DIR
from pipelines.tables import table_markdown
from pipelines.warehouse import database_url, drop_database, ensure_database, with_database

DATABASE = "huiliu_bench"
CHILD_RESULT = "bench result: "
SCREENING_MODELS = ("prot_screening_hits", "prot_warning_ids", "prot_collision_warnings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", default="1000000", help="sizes, comma-separated: 100000,1000000")
    parser.add_argument("--days", type=int, default=1, help="consecutive nights at each size")
    parser.add_argument("--date", default="2026-11-01")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--units", type=int, default=1, help="also run the first size with K× the units")
    parser.add_argument("--profile", action="store_true", help="statements and Python, by time")
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.people.split(",")]
    os.environ.setdefault("HUILIU_TOKEN_KEY", "benchmark-token-key-not-a-secret")

    base = database_url()
    result = {"command": "python benchmarks/bench_pipeline.py " + " ".join(sys.argv[1:]),
              "commit": commit(), "machine": machine(base), "runs": []}
    for people in sizes:
        result["runs"] += bench_size(base, people, args)
    if args.units > 1:
        result["units"] = more_units(sizes[0], args)
        same = [r for r in result["runs"] if r["people"] == sizes[0]][-1]
        result["units"]["ratio"] = round(result["units"]["seconds"] / same["seconds"], 2)
    result["targets"] = targets(result["runs"])
    if "units" in result:
        result["targets"]["units"] = {f"×{args.units}": result["units"]["ratio"]}
    print_targets(result["targets"])
    if os.environ.get("HUILIU_BENCH_NO_RESULTS"):  # a child of --units: its parent keeps the results
        print(CHILD_RESULT + json.dumps(result))
    else:
        print(f"results: {save(result)} (and benchmarks/RESULTS.md)")
    failed = [r for r in result["runs"] if r["failure"]]
    if failed:
        raise SystemExit(failed[0]["failure"])


def bench_size(base: str, people: int, args: argparse.Namespace) -> list[dict]:
    from huiliu_dev.generate import generate
    from pipelines.runner import run_batch_date

    admin = with_database(base, "postgres")
    drop_database(admin, DATABASE)
    ensure_database(admin, DATABASE)
    url = with_database(base, DATABASE)
    os.environ["HUILIU_DATABASE_URL"] = url
    if args.profile:
        enable_statement_log(admin, DATABASE)
    landing = STATE_DIR / "bench" / "landing"
    shutil.rmtree(landing, ignore_errors=True)
    runs = []
    for night in range(1, args.days + 1):
        day = dt.date.fromisoformat(args.date) + dt.timedelta(days=night - 1)
        started = time.perf_counter()
        summary = generate(landing, day, people=people, seed=args.seed)
        generated = time.perf_counter() - started
        rows = sum(f["rows"] for f in summary["files"].values())
        floor = measure_floor(url, landing, [day.isoformat()])
        print(f"\n{people:,} people, night {night} ({day}): {rows:,} rows generated in {generated:.1f} s; "
              f"COPY floor {floor.seconds:.2f} s ({floor.rows:,} rows, {floor.bytes / 2**20:.0f} MB)")
        since = log_position() if args.profile else {}
        profile = PythonProfile()
        with dg.DagsterInstance.ephemeral() as instance:
            with PeakRSS() as peak, (profile if args.profile else contextlib.nullcontext()):
                started = time.perf_counter()
                report = run_batch_date(landing, day, log_level="ERROR", instance=instance)
                total = time.perf_counter() - started
            steps = step_times(instance, report.run_id)
        run = {"people": people, "night": night, "batch_date": day.isoformat(), "rows": rows,
               "seconds": round(total, 2), "floor": floor.as_json(), "ratio": round(total / floor.seconds, 1),
               "rows_per_second": round(rows / total), "peak_rss_mb": round(peak.tree_mb),
               "server_rss_mb": round(peak.server_mb), "failure": report.failure, **steps}
        runs.append(run)
        print(f"run: {total:.1f} s wall, {run['ratio']:.0f}× the floor, {run['rows_per_second']:,} rows/s; "
              f"peak RSS {peak.tree_mb:.0f} MB (server {peak.server_mb:.0f} MB)")
        for name, seconds in run["steps"].items():
            print(f"  step {name}: {seconds:.1f} s")
        print("  publish: " + ", ".join(f"{k} {v:.1f} s" for k, v in run["publish"].items()))
        print(f"  screenings: {run['screenings_s']:.1f} s ({run['screenings_s'] / total:.1%} of the run)")
        if args.profile:
            path = RESULTS_DIR / f"profile-{people}-night{night}.md"
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            write(path, statement_profile(DATABASE, since), profile.top())
            run["profile"] = str(path)
            print(f"  profile: {path}")
        if report.failure:
            print("\n".join(report.failure_details))
            break
    return runs


def more_units(people: int, args: argparse.Namespace) -> dict:
    """The first size's first night again, on the county ×K and a server of its own (a child process:
    the state directory and the topology are read when huiliu is imported)."""
    from measure.units import partitions_for

    directory = STATE_DIR / "bench" / f"units-x{args.units}"
    env = dict(os.environ, HUILIU_PARTITIONS=str(partitions_for(args.units, directory)),
               HUILIU_STATE_DIR=str(directory / "state"), HUILIU_BENCH_NO_RESULTS="1")
    env.pop("HUILIU_DATABASE_URL", None)  # the child's own local server
    cmd = [sys.executable, __file__, "--people", str(people), "--date", args.date, "--seed", str(args.seed),
           "--days", str(args.days)]
    print(f"\n×{args.units} units: {' '.join(cmd)} (HUILIU_PARTITIONS={env['HUILIU_PARTITIONS']})", flush=True)
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    finally:  # its server's memory goes back to the machine
        subprocess.run([sys.executable, "-m", "pipelines.cli", "db-stop"], env=env, capture_output=True,
                       check=False)
    if out.returncode:
        raise SystemExit(f"the ×{args.units} run failed:\n{out.stderr[-3000:]}")
    child = json.loads(out.stdout.rsplit(CHILD_RESULT, 1)[1])
    for run in child["runs"]:
        print(f"  ×{args.units} night {run['night']}: {run['seconds']:.1f} s")
    run = child["runs"][-1]  # the last night against the parent's last night: roles exist by then
    return {"factor": args.units, "people": people, "seconds": run["seconds"],
            "units_config": env["HUILIU_PARTITIONS"],
            "peak_rss_mb": run["peak_rss_mb"], "steps": run["steps"], "publish": run["publish"]}


def step_times(instance: dg.DagsterInstance, run_id: str) -> dict:
    """Each Dagster step's wall time, the publish step's own timings, and the screening models'."""
    steps = {s.step_key: round(s.end_time - s.start_time, 2)
             for s in instance.get_run_step_stats(run_id) if s.start_time and s.end_time}
    publish = {}
    event = instance.get_latest_materialization_event(dg.AssetKey(["publish", "warehouse"]))
    timings = event.asset_materialization.metadata.get("timings") if event else None
    if isinstance(timings, dg.TableMetadataValue):
        publish = {r.data["step"]: float(r.data["seconds"]) for r in timings.records}
        print("  publish timings:\n" + table_markdown(timings))
    screened = 0.0
    for name in SCREENING_MODELS:
        e = instance.get_latest_materialization_event(dg.AssetKey(["protected", name]))
        duration = e.asset_materialization.metadata.get("Execution Duration") if e else None
        screened += float(duration.value) if duration else 0.0
    return {"steps": steps, "publish": publish, "screenings_s": round(screened, 2)}


def targets(runs: list[dict]) -> dict:
    """Issue 16's figures: ratio at each size, marginal between sizes, the history's last/second."""
    first = {}
    for r in runs:
        first.setdefault(r["people"], r)
    out: dict = {"ratio": {str(p): r["ratio"] for p, r in first.items()}}
    sizes = sorted(first)
    out["marginal"] = {
        f"{a}→{b}": round((first[b]["seconds"] - first[a]["seconds"])
                          / max(first[b]["floor"]["seconds"] - first[a]["floor"]["seconds"], 1e-9), 1)
        for a, b in zip(sizes, sizes[1:], strict=False)}
    out["history"] = {}
    for p in sizes:
        nights = [r for r in runs if r["people"] == p]
        if len(nights) >= 3:
            out["history"][str(p)] = round(nights[-1]["seconds"] / nights[1]["seconds"], 2)
    out["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return out


def print_targets(t: dict) -> None:
    print("\ntargets (issue 16): total ≤ 20× floor; marginal ≤ 8×; last night ≤ 1.2× the 2nd; RSS ≤ 1,536 MB")
    for people, ratio in t["ratio"].items():
        print(f"  {int(people):,} people: {ratio:.0f}× the floor")
    for pair, ratio in t["marginal"].items():
        print(f"  marginal {pair}: {ratio:.0f}× the marginal floor")
    for people, ratio in t["history"].items():
        print(f"  history at {int(people):,}: last night {ratio:.2f}× the second")
    for factor, ratio in t.get("units", {}).items():
        print(f"  units {factor}: {ratio:.2f}× the time")
    print(f"  peak RSS of the process tree: {t['peak_rss_mb']:,} MB")


if __name__ == "__main__":
    main()
