"""Benchmark: ingest one 5,000,000-row file and report the peak memory of the process that reads it.

Ingestion streams: the file is read in 8 MB chunks straight into a COPY, records are assembled
and split in the server. So the reading process's peak RSS must not grow with the file; this
prints it (and the time, rows per second) for a snapshot of N rows of household_registration
(a block of generated lines repeated: the loader neither knows nor cares), quoted fields with
commas and line breaks included. The server's own memory is its configuration's business and
is reported separately from pg_stat (work_mem, shared_buffers).
Usage: python benchmarks/bench_streaming.py [--rows 5000000]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipelines.contract import DATASETS
from pipelines.warehouse import database_url, drop_database, ensure_database, with_database

DAY = "2026-11-01"
BLOCK = 10_000
CHILD = """
import datetime as dt, sys
from pathlib import Path
from pipelines.ingest.batches import ingest_day
from pipelines.ingest.schema import ensure_schemas
from pipelines.warehouse import connect
with connect() as conn:
    ensure_schemas(conn)
    (o,) = ingest_day(conn, Path(sys.argv[1]), dt.date.fromisoformat(sys.argv[2]))
    print(o.status, o.reason, o.records_stored)
"""


def write_file(directory: Path, rows: int) -> tuple[int, str]:
    header = list(DATASETS["household_registration"].column_names)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for i in range(BLOCK):
        v = {c: "" for c in header} | {
            "id_number": f"33068319{i % 90 + 10:02d}0101{i % 1000:03d}X", "name": "张三",
            "gender": "1", "birth_date": "1950-01-01", "ethnicity": "01", "household_id": f"H{i}",
            "relation_to_head": "01",
            "address": "嵊州市甘霖镇,尹家村\n1号" if i % 50 == 0 else "嵊州市甘霖镇1号",
            "division_code": "330683100201", "phone": "13800138000", "updated_at": "2026-11-01T10:00:00+08:00"}
        w.writerow([v[c] for c in header])
    block = buf.getvalue().encode("utf-8")
    hasher = hashlib.sha256()
    path = directory / "household_registration.csv"
    with open(path, "wb") as fh:
        head = (",".join(header) + "\n").encode()
        fh.write(head)
        hasher.update(head)
        for _ in range(rows // BLOCK):
            fh.write(block)
            hasher.update(block)
    return path.stat().st_size, hasher.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    args = parser.parse_args()
    rows = args.rows // BLOCK * BLOCK
    base = database_url()
    admin = with_database(base, "postgres")
    drop_database(admin, "huiliu_bench_stream")
    ensure_database(admin, "huiliu_bench_stream")
    with tempfile.TemporaryDirectory(prefix="huiliu_stream_") as tmp:
        batch = Path(tmp) / "province" / DAY
        batch.mkdir(parents=True)
        size, digest = write_file(batch, rows)
        (batch / "manifest.json").write_text(json.dumps({
            "source": "province", "batch_id": "BENCH", "batch_date": DAY, "created_at": f"{DAY}T23:00:00+08:00",
            "files": [{"dataset": "household_registration", "path": "household_registration.csv",
                       "encoding": "utf-8", "mode": "snapshot", "rows": rows, "sha256": digest}]}))
        env = os.environ | {"HUILIU_DATABASE_URL": with_database(base, "huiliu_bench_stream")}
        start = time.monotonic()
        out = subprocess.run([sys.executable, "-c", CHILD, tmp, DAY], env=env, capture_output=True, text=True)
        seconds = time.monotonic() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    drop_database(admin, "huiliu_bench_stream")
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    print(f"file: {rows:,} rows, {size / 2**20:,.0f} MiB; outcome: {out.stdout.strip()}")
    print(f"ingest: {seconds:.1f} s ({rows / seconds:,.0f} rows/s); peak RSS of the reading process: "
          f"{peak_mb:,.0f} MiB (limit 1,536)")


if __name__ == "__main__":
    main()
