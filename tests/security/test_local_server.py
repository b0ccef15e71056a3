"""The project's local PostgreSQL lets in only the one who holds its password: another OS user cannot."""

from __future__ import annotations

import os
import pwd
import stat
import subprocess

import pytest

from pipelines import localdb
from pipelines.govern.token_key import KEY_FILE

INTRUDER = "huiliu-intruder"

def _intruder() -> str:
    if os.geteuid() != 0:
        pytest.fail("creating a second OS user needs root (CI runs as root)")
    try:
        pwd.getpwnam(INTRUDER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", INTRUDER],
                       check=True, capture_output=True)
    return INTRUDER


def _as_intruder(*cmd: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PGCONNECT_TIMEOUT": "5"}  # no password in it
    return subprocess.run(["runuser", "-u", _intruder(), "--", *cmd], capture_output=True, text=True,
                          env=env, timeout=60)


def test_a_second_os_user_cannot_connect_or_read_the_secrets(warehouse_url: str) -> None:
    server = localdb.ensure_local_server()
    if f":{server.port}/" not in warehouse_url:
        pytest.skip("the tests run on an external server (HUILIU_DATABASE_URL): the local one is not theirs")
    psql = localdb._bindir() / "psql"
    assert psql.exists()
    over_socket = _as_intruder(str(psql), "-w", f"host={server.socket_dir} port={server.port} user=huiliu "
                               "dbname=postgres", "-c", "select 1")
    over_tcp = _as_intruder(str(psql), "-w", f"host=127.0.0.1 port={server.port} user=huiliu dbname=postgres",
                            "-c", "select 1")
    wrong = _as_intruder(str(psql), "-w", f"host=127.0.0.1 port={server.port} user=huiliu dbname=postgres "
                         "password=guessed", "-c", "select 1")
    for attempt in (over_socket, over_tcp, wrong):
        assert attempt.returncode != 0 and "1 row" not in attempt.stdout, attempt
    assert "no password supplied" in over_tcp.stderr or "password authentication failed" in over_tcp.stderr
    assert "password authentication failed" in wrong.stderr
    for secret in (localdb.PG_DIR / "password", KEY_FILE):
        if secret.exists():
            assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret
            assert _as_intruder("/bin/cat", str(secret)).returncode != 0
    for private in (localdb.PG_DIR, server.socket_dir, server.data_dir):
        assert stat.S_IMODE(private.stat().st_mode) == 0o700, private
    hba = (server.data_dir / "pg_hba.conf").read_text()
    assert "trust" not in hba and "local   all   all                  scram-sha-256" in hba
