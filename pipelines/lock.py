"""The publish lock: one PostgreSQL advisory lock held from build through gates and switch.

Dagster's concurrency pools only coordinate runs of one instance; two `huiliu run`
processes (or a run and a backfill) meet only in the database. A lock around the switch
alone would let a run that built earlier publish over a newer one, so the lock is taken
before `dbt build --select tiers` and released after the switch. It lives on a dedicated
connection (session-level lock); the switch transaction runs on that same connection, so
a publish whose lock connection died can never switch. Advisory locks are per database:
publishes into two databases of one server do not wait for each other.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType

import psycopg
from psycopg import errors

# A stable 63-bit key derived from a name, so other tools can find (and respect) the lock.
LOCK_NAME = "huiliu.publish"
LOCK_KEY = int.from_bytes(hashlib.sha256(LOCK_NAME.encode()).digest()[:8], "big") >> 1
DDL_LOCK = "huiliu.ddl"

HOLDER = """
SELECT a.pid, coalesce(nullif(a.application_name, ''), '?'), a.backend_start, a.state_change,
       coalesce(a.client_addr::text, 'local')
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.database = (
        SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid::bigint = %(hi)s AND l.objid::bigint = %(lo)s AND l.objsubid = 1
"""


class PublishLockBusy(RuntimeError):
    """Another publish holds the lock and we were told not to wait (any longer)."""


class PublishLockLost(RuntimeError):
    """The connection holding the lock is gone: this publish must not switch."""


def _key_parts(key: int) -> dict[str, int]:
    return {"hi": (key >> 32) & 0xFFFFFFFF, "lo": key & 0xFFFFFFFF}


def describe_holder(conn: psycopg.Connection, key: int = LOCK_KEY) -> str | None:
    """Who holds the publish lock in this database ("pid 123 'huiliu publish run …' since …")."""
    row = conn.execute(HOLDER, _key_parts(key)).fetchone()
    if row is None:
        return None
    pid, app, started, _, client = row
    return f"pid {pid} {app!r} from {client}, connected since {started:%Y-%m-%d %H:%M:%S%z}"


class PublishLock:
    """`with PublishLock(url, wait=…) as lock:` — held until the block exits (or the process dies).

    wait=None waits as long as it takes (logging who it waits for); wait=0 fails at once;
    wait=t waits up to t seconds. Failing raises PublishLockBusy naming the holder.
    """

    def __init__(self, url: str, *, wait: float | None = None, key: int = LOCK_KEY,
                 label: str = "huiliu publish", log: Callable[[str], None] | None = None) -> None:
        self.url, self.wait, self.key, self.label = url, wait, key, label[:60]
        self.log = log or (lambda _msg: None)
        self._conn: psycopg.Connection | None = None
        self.waited = 0.0

    @property
    def connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            raise PublishLockLost("the publish lock is not held")
        return self._conn

    @property
    def backend_pid(self) -> int:
        return self.connection.info.backend_pid

    def acquire(self) -> PublishLock:
        conn = psycopg.connect(self.url, autocommit=True, application_name=self.label,
                               keepalives=1, keepalives_idle=30)
        try:
            conn.execute("SET idle_session_timeout = 0")  # the lock must outlive a long dbt build
            if not conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()[0]:
                holder = describe_holder(conn, self.key) or "another session"
                if self.wait is not None and self.wait <= 0:
                    raise PublishLockBusy(f"another publish is running in this database: {holder}")
                self.log(f"waiting for the publish lock, held by {holder}")
                start = time.monotonic()
                timeout_ms = 0 if self.wait is None else max(1, int(self.wait * 1000))
                conn.execute(f"SET lock_timeout = {timeout_ms}")
                try:
                    conn.execute("SELECT pg_advisory_lock(%s)", (self.key,))
                except errors.LockNotAvailable as exc:
                    holder = describe_holder(conn, self.key) or holder
                    raise PublishLockBusy(
                        f"gave up after {self.wait:.0f} s waiting for the publish lock: {holder}") from exc
                finally:
                    self.waited = time.monotonic() - start
                conn.execute("SET lock_timeout = 0")
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return self

    def assert_held(self) -> None:
        """Raise PublishLockLost unless this session still holds the lock."""
        try:
            held = self.connection.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND pid = pg_backend_pid() AND classid::bigint = %(hi)s "
                "AND objid::bigint = %(lo)s AND objsubid = 1",
                _key_parts(self.key)).fetchone()[0]
        except psycopg.OperationalError as exc:
            raise PublishLockLost(f"the publish lock's connection failed: {exc}") from exc
        if not held:
            raise PublishLockLost("this session no longer holds the publish lock")

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None or conn.closed:
            return
        try:
            conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        except psycopg.Error:
            pass  # closing the session releases it anyway
        finally:
            conn.close()

    def __enter__(self) -> PublishLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def lock_key(name: str) -> int:
    """A stable 63-bit advisory lock key for a name (LOCK_KEY is lock_key("huiliu.publish"))."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") >> 1


def hold_until_commit(conn: psycopg.Connection, name: str) -> None:
    """Take the advisory lock `name` for the rest of the open transaction (waits for its holder)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(name),))


@contextmanager
def serialized(conn: psycopg.Connection, name: str) -> Iterator[None]:
    """A transaction that holds the advisory lock `name` until it ends.

    For the idempotent DDL every step runs first (`CREATE … IF NOT EXISTS` is not safe when two
    sessions run it at once: the loser fails on pg_type's unique index) and for bookkeeping that
    reads then writes (the audit log cursor): two runs started together take turns.
    """
    with conn.transaction():
        hold_until_commit(conn, name)
        yield
