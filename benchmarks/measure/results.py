"""What a benchmark keeps: `benchmarks/results/<date>.json` (every figure, the machine, the commit)
and a line per run in `benchmarks/RESULTS.md`, newest first, with the command that produced it."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from pathlib import Path

import psutil
import psycopg

HERE = Path(__file__).resolve().parent.parent
RESULTS_DIR = HERE / "results"
RESULTS_MD = HERE / "RESULTS.md"
HEADER = """# Benchmark results

`make bench` (benchmarks/bench_pipeline.py) appends one line per run here and writes every figure
to `benchmarks/results/<date>.json`. Ratios are to the COPY floor of the same files measured in the
same run (UNLOGGED text tables), so they survive a noisy machine; memory is the peak RSS of the
benchmark's process tree (the server apart).

| date | commit | command | people | rows | run s | floor s | ratio | rows/s | RSS MB | server MB | machine |
"""
RULE = "|---" * 12 + "|\n"
HEADER += RULE


def machine(url: str) -> dict:
    with psycopg.connect(url) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
        settings = dict(conn.execute(
            "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN "
            "('shared_buffers', 'work_mem', 'maintenance_work_mem', 'max_parallel_workers_per_gather')"
        ).fetchall())
    return {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "postgres": server, "settings": settings,
            "platform": platform.platform()}


def commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=HERE,
                               capture_output=True, text=True, check=True).stdout.strip()
        return out + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def save(result: dict) -> Path:
    """Write the JSON (a second run on one day gets -2, -3 …) and add its lines to RESULTS.md."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    day = dt.date.today().isoformat()
    path = RESULTS_DIR / f"{day}.json"
    n = 2
    while path.exists():
        path = RESULTS_DIR / f"{day}-{n}.json"
        n += 1
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    m = result["machine"]
    where = f"{m['cpus']} cores, {m['memory_gb']} GB, PostgreSQL {m['postgres'].split()[0]}"
    lines = []
    for r in result["runs"]:
        cells = [day, result["commit"], f"`{result['command']}`", f"{r['people']:,} (night {r['night']})",
                 f"{r['rows']:,}", f"{r['seconds']:.1f}", f"{r['floor']['seconds']:.2f}", f"{r['ratio']:.0f}×",
                 f"{r['rows_per_second']:,.0f}", f"{r['peak_rss_mb']:.0f}", f"{r['server_rss_mb']:.0f}", where]
        lines.append("| " + " | ".join(cells) + " |")
    if "units" in result:  # the ×K county's last night (its floor is its own server's)
        u = result["units"]
        cells = [day, result["commit"], f"`{result['command']}`", f"{u['people']:,} ×{u['factor']} units",
                 "", f"{u['seconds']:.1f}", "", f"{u['ratio']:.2f}× the ×1 time", "", f"{u['peak_rss_mb']:.0f}",
                 "", where]
        lines.append("| " + " | ".join(cells) + " |")
    old = RESULTS_MD.read_text(encoding="utf-8") if RESULTS_MD.exists() else HEADER
    head, _, rest = old.partition(RULE)
    RESULTS_MD.write_text(head + RULE + "\n".join(lines) + "\n" + rest, encoding="utf-8")
    return path
