"""The command line: db-url / db-stop on a private server, and exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

HUILIU = str(Path(sys.executable).parent / "huiliu")


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HUILIU, *args], capture_output=True, text=True, env=env, timeout=180)


def test_db_url_starts_a_private_server_and_db_stop_stops_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "HUILIU_DATABASE_URL"}
    env["HUILIU_STATE_DIR"] = str(tmp_path / "state")  # a second clone's own server
    first = _run("db-url", env=env)
    assert first.returncode == 0, first.stderr
    url = first.stdout.strip()
    assert url.startswith("postgresql://") and "@127.0.0.1:" in url
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("huiliu",)
    assert _run("db-url", env=env).stdout.strip() == url  # reused, same port
    stop = _run("db-stop", env=env)
    assert stop.returncode == 0 and "stopped" in stop.stdout
    try:
        psycopg.connect(url, connect_timeout=3).close()
        raise AssertionError("the server still accepts connections after db-stop")
    except psycopg.OperationalError:
        pass
    assert "not running" in _run("db-stop", env=env).stdout


def test_run_without_a_complete_batch_exits_1(tmp_path, warehouse_url):
    (tmp_path / "province" / "2026-11-02").mkdir(parents=True)  # still arriving: no manifest
    result = _run("run", "--landing", str(tmp_path), "--date", "2026-11-02",
                  env=dict(os.environ))
    assert result.returncode == 1
    assert "no complete batch" in result.stderr
