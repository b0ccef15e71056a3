"""Two batch dates processed at once by two processes converge to the state of both, in date order.

Each `huiliu run` is its own process (own Dagster instance), as two operators or a backfill and
the nightly schedule would be; they meet only in the database. The main dbt build and the
publish take one advisory lock, so whatever the interleaving, the last publish follows the last
main build, which follows every ingest. The published content (a hash per relation) must equal
what running the two dates one after the other gives.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from support.runs import HUILIU, fresh_databases, huiliu_env, published_content

from huiliu_dev.generate import generate

PEOPLE, SEED = 800, 31
D1, D2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("concurrent_landing")
    for day in (D1, D2):
        generate(root, day, people=PEOPLE, seed=SEED)
    return root


@pytest.fixture(scope="module")
def databases(warehouse_url: str) -> Iterator[list[str]]:
    with fresh_databases(warehouse_url, "together", "in_order") as urls:
        yield urls


def start(url: str, landing: Path, day: dt.date) -> subprocess.Popen:
    return subprocess.Popen([HUILIU, "run", "--landing", str(landing), "--date", day.isoformat()],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=huiliu_env(url))


def finish(process: subprocess.Popen) -> None:
    out, err = process.communicate(timeout=900)
    assert process.returncode == 0, err[-3000:]


def test_two_dates_at_once_equal_the_two_in_date_order(databases, landing):
    together, in_order = databases
    first, second = start(together, landing, D2), start(together, landing, D1)  # the later date first
    finish(first)
    finish(second)
    finish(start(in_order, landing, D1))
    finish(start(in_order, landing, D2))
    got, want = published_content(together), published_content(in_order)
    assert len(want) >= 30  # every (audience, dataset) relation the layout publishes
    assert got == want
    with psycopg.connect(together, autocommit=True) as db:
        log = db.execute("SELECT version, batch_dates FROM governance.publish_log "
                         "ORDER BY publish_id").fetchall()
    assert [v for v, _ in log] == sorted(v for v, _ in log) and log[-1][1] == [D1, D2]
