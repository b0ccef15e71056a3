"""Runs at once converge to the state of their batches applied in date order.

Each `huiliu run` is its own process (own Dagster instance), as two operators or a backfill and
the nightly schedule would be; they meet only in the database. Three meet here: the later date
and the earlier one started together, and — while the first is paused inside the COPY of its
first file (pipelines/crashpoints.py) — the province delivers that batch again with the file
changed, and a third run loads the re-delivery. Loads of one batch's dataset take turns and
the newer delivery supersedes the older whichever commits first; the main dbt build and the
publish take one advisory lock, so the last publish follows the last main build, which follows
every ingest. The published content (a hash per relation) must equal what running the dates
one after the other gives on what was finally delivered.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from support.batchkit import rewrite
from support.runs import HUILIU, fresh_databases, huiliu_env, published_content

from huiliu_dev.generate import generate
from pipelines.crashpoints import CRASH_AT, CRASH_MARKER
from pipelines.lock import lock_key

PEOPLE, SEED = 800, 31
D1, D2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)
UNLISTED = "notes.txt"  # in the city's D1 folder, named by no manifest


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("concurrent_landing")
    for day in (D1, D2):
        generate(root, day, people=PEOPLE, seed=SEED)
    (root / "city" / D1.isoformat() / UNLISTED).write_text("导出说明\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def databases(warehouse_url: str) -> Iterator[list[str]]:
    with fresh_databases(warehouse_url, "together", "in_order") as urls:
        yield urls


def start(url: str, landing: Path, day: dt.date, **env: str) -> subprocess.Popen:
    return subprocess.Popen([HUILIU, "run", "--landing", str(landing), "--date", day.isoformat()],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=huiliu_env(url, **env))


def finish(process: subprocess.Popen, day: dt.date) -> str:
    """Wait for a run; D1 exits 2 (its unlisted file is held back, and named), D2 exits 0."""
    out, err = process.communicate(timeout=900)
    assert process.returncode == (2 if day == D1 else 0), err[-3000:]
    if day == D1:
        assert f"unlisted: city/{D1}/{UNLISTED}" in err
    return out + err


def first_file(landing: Path, source: str, day: dt.date) -> str:
    manifest = json.loads((landing / source / day.isoformat() / "manifest.json").read_text("utf-8"))
    return manifest["files"][0]["dataset"]


def wait_for(marker: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 600
    while not marker.exists():
        assert process.poll() is None, f"the run ended before its pause: {process.stderr.read()[-2000:]}"
        assert time.monotonic() < deadline, "the pause point was not reached in 600 s"
        time.sleep(0.2)


def waiting_for_its_turn(url: str, process: subprocess.Popen, dataset: str) -> None:
    """Until a session waits for the lock of province/D2's `dataset` load (pipelines/ingest/loader.py)."""
    key = lock_key(f"huiliu.load:province/{D2.isoformat()}/{dataset}")
    deadline = time.monotonic() + 300
    with psycopg.connect(url, autocommit=True) as db:
        while not db.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 1 "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF)).fetchone()[0]:
            assert process.poll() is None, f"the re-delivery's run ended: {process.stderr.read()[-2000:]}"
            assert time.monotonic() < deadline, "the re-delivery's run never waited for the file"
            time.sleep(0.2)


def test_runs_at_once_and_a_redelivery_equal_the_dates_in_order(databases, landing, tmp_path):
    together, in_order = databases
    dataset, marker = first_file(landing, "province", D2), tmp_path / "paused"
    first = start(together, landing, D2, **{CRASH_AT: "copy", CRASH_MARKER: str(marker)})
    second = start(together, landing, D1)  # the later date first, the earlier beside it
    wait_for(marker, first)  # `first` is inside the COPY of province/D2's first file
    rewrite(landing, "province", D2, dataset, lambda _header, rows: rows[:-5])
    third = start(together, landing, D2)  # the re-delivery's run
    waiting_for_its_turn(together, third, dataset)  # at the file `first` holds: it waits, never loads beside it
    marker.unlink()  # `first` goes on
    for process, day in ((first, D2), (second, D1), (third, D2)):
        finish(process, day)

    finish(start(in_order, landing, D1), D1)
    finish(start(in_order, landing, D2), D2)  # D2 as finally delivered
    got, want = published_content(together), published_content(in_order)
    assert len(want) >= 30  # every (audience, dataset) relation the layout publishes
    assert got == want
    with psycopg.connect(together, autocommit=True) as db:
        log = db.execute("SELECT version, batch_dates FROM governance.publish_log "
                         "ORDER BY publish_id").fetchall()
        files = db.execute(
            "SELECT f.status, f.rows_received, f.superseded_by = n.file_id FROM governance.batch_files f "
            "LEFT JOIN governance.batch_files n ON n.file_id = f.superseded_by "
            "WHERE f.source = 'province' AND f.batch_date = %s AND f.dataset = %s ORDER BY f.file_id",
            (D2, dataset)).fetchall()
        loaded_rows = db.execute(
            "SELECT rows_received FROM governance.batch_files WHERE source = 'province' AND "
            "batch_date = %s AND dataset = %s AND status = 'loaded'", (D2, dataset)).fetchall()
    assert [v for v, _ in log] == sorted(v for v, _ in log) and log[-1][1] == [D1, D2]
    # the first delivery's file loaded, then the re-delivery's superseded it: never the reverse
    assert [(status, linked) for status, _, linked in files] == [("superseded", True), ("loaded", None)]
    assert loaded_rows == [(files[0][1] - 5,)]
