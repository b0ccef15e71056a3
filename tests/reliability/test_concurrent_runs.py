"""Two batch dates processed at once by two processes converge to the state of both, in date order.

Each `huiliu run` is its own process (own Dagster instance), as two operators or a backfill and
the nightly schedule would be; they meet only in the database. The main dbt build and the
publish take one advisory lock, so whatever the interleaving, the last publish follows the last
main build, which follows every ingest. The published content (a hash per relation) must equal
what running the two dates one after the other gives.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from huiliu_dev.generate import generate
from pipelines.warehouse import drop_database, ensure_database, with_database

PEOPLE, SEED = 800, 31
D1, D2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)
HUILIU = str(Path(sys.executable).parent / "huiliu")


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("concurrent_landing")
    for day in (D1, D2):
        generate(root, day, people=PEOPLE, seed=SEED)
    return root


@pytest.fixture(scope="module")
def databases(warehouse_url: str) -> Iterator[tuple[str, str]]:
    admin = with_database(warehouse_url, "postgres")
    base = warehouse_url.rsplit("/", 1)[1]
    names = [f"{base}_together", f"{base}_in_order"]
    for n in names:
        drop_database(admin, n)
        ensure_database(admin, n)
    yield with_database(warehouse_url, names[0]), with_database(warehouse_url, names[1])
    for n in names:
        drop_database(admin, n)


def start(url: str, landing: Path, day: dt.date) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"} | {"HUILIU_DATABASE_URL": url}
    return subprocess.Popen([HUILIU, "run", "--landing", str(landing), "--date", day.isoformat()],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish(process: subprocess.Popen) -> None:
    out, err = process.communicate(timeout=900)
    assert process.returncode == 0, err[-3000:]


def published_content(url: str) -> dict[str, tuple[int, str]]:
    """Rows and an order-independent hash of every published relation (tokens included)."""
    with psycopg.connect(url, autocommit=True) as db:
        names = [r[0] for r in db.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'published' AND c.relkind = 'v' ORDER BY 1").fetchall()]
        return {name: db.execute(sql.SQL(
            "SELECT count(*), coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '') "
            "FROM {} t"
        ).format(sql.Identifier("published", name))).fetchone() for name in names}


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
