"""A run killed with SIGKILL anywhere converges on the re-run: nothing half-published, lost or doubled.

Each attempt runs `huiliu run` in a process group of its own with HUILIU_CRASH_AT set
(pipelines/crashpoints.py); once the run writes the marker (so the point was reached) the
whole group — dbt's processes included — is killed with SIGKILL. After every kill the
published state is what it was before the kill (the switch is one transaction), or the new
one for a kill after the switch. The final clean re-run must publish exactly what a run that
was never interrupted publishes (a hash per relation), with no orphan version schema left
and every file loaded once.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from support.runs import HUILIU, fresh_databases, huiliu_env, published_content

from huiliu_dev.generate import generate
from pipelines.contract import DATASETS
from pipelines.crashpoints import CRASH_AT, CRASH_MARKER, POINTS

PEOPLE, SEED = 800, 37
DAY = dt.date(2026, 11, 1)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crash_landing")
    generate(root, DAY, people=PEOPLE, seed=SEED)
    return root


@pytest.fixture(scope="module")
def databases(warehouse_url: str) -> Iterator[list[str]]:
    with fresh_databases(warehouse_url, "crashed", "clean") as urls:
        yield urls


def run(url: str, landing: Path) -> None:
    result = subprocess.run([HUILIU, "run", "--landing", str(landing), "--date", DAY.isoformat()],
                            capture_output=True, text=True, env=huiliu_env(url), timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]


def kill_at(url: str, landing: Path, point: str, marker: Path) -> None:
    """Run until `point`, then SIGKILL the run's whole process group."""
    marker.unlink(missing_ok=True)
    process = subprocess.Popen([HUILIU, "run", "--landing", str(landing), "--date", DAY.isoformat()],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env=huiliu_env(url, **{CRASH_AT: point, CRASH_MARKER: str(marker)}),
                               start_new_session=True)
    deadline = time.monotonic() + 600
    while not marker.exists():
        if process.poll() is not None:
            raise AssertionError(f"the run ended before reaching {point}: {process.stderr.read()[-2000:]}")
        assert time.monotonic() < deadline, f"{point} not reached in 600 s"
        time.sleep(0.2)
    assert marker.read_text() == point
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    process.stderr.close()


def _rows(content: dict[str, tuple[int, str]]) -> dict[str, tuple[int, str]]:
    return {k: v for k, v in content.items() if v[0]}


def test_a_run_killed_at_every_point_converges_on_the_re_run(databases, landing, tmp_path):
    crashed, clean = databases
    run(clean, landing)
    want = published_content(clean)
    assert len(want) >= 30
    for point in POINTS:
        before = published_content(crashed)
        kill_at(crashed, landing, point, tmp_path / "reached")
        after = published_content(crashed)
        if point == "after_switch":
            assert after == want, "the switch committed: the new state is published whole"
        else:  # placeholders a publish prepares for relations new to the county read nothing
            assert _rows(after) == _rows(before), f"killed at {point}: nothing half-published"
    run(crashed, landing)
    assert published_content(crashed) == want
    with psycopg.connect(crashed, autocommit=True) as db:
        versions = [r[0] for r in db.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'version\\_%' ORDER BY 1").fetchall()]
        readers = {r[0] for r in db.execute(
            "SELECT DISTINCT vn.nspname FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid "
            "JOIN pg_class v ON v.oid = r.ev_class JOIN pg_namespace pn ON pn.oid = v.relnamespace "
            "JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace vn ON vn.oid = t.relnamespace "
            "WHERE pn.nspname = 'published' AND vn.nspname LIKE 'version\\_%'").fetchall()}
        assert set(versions) == readers, "no orphan version schema"
        files = db.execute("SELECT dataset, count(*) FROM governance.batch_files WHERE status = 'loaded' "
                           "GROUP BY 1").fetchall()
        assert dict(files) == dict.fromkeys(DATASETS, 1), "every file loaded once"
        with psycopg.connect(clean, autocommit=True) as ref:
            for d in DATASETS:
                q = f"SELECT count(*) FROM raw.{d}"
                assert db.execute(q).fetchone()[0] == ref.execute(q).fetchone()[0], d
