"""The tokenization key: from HUILIU_TOKEN_KEY, into a table only the pipeline role reads.

Tokens are HMAC-SHA256 of the normalised value. The key never enters SQL text: it is
sent as a bind parameter (as the HMAC inner and outer pads, so the server needs only
its built-in sha256()), never through dbt, compiled SQL, logs or Dagster metadata, and
child processes (dbt, the lineage compile) run without it. The local demo generates a key
into the git-ignored state folder; with HUILIU_DATABASE_URL set, that file is never used.

Beside the pads the warehouse keeps the key's fingerprint (an HMAC of a fixed label): a run
with another key would silently re-key every token, so it is refused; `huiliu rotate-key`
changes the key on purpose, records it in governance.key_rotations and re-keys every token
in one publish.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterator

import psycopg

from pipelines.lock import DDL_LOCK, serialized
from pipelines.paths import STATE_DIR, write_private

KEY_FILE = STATE_DIR / "token.key"
KEY_VARIABLE = "HUILIU_TOKEN_KEY"
BLOCK = 64  # SHA-256 block size
FINGERPRINT_LABEL = b"huiliu token key fingerprint v1"

PRIVATE_DDL = """
CREATE SCHEMA IF NOT EXISTS privacy_key;
REVOKE ALL ON SCHEMA privacy_key FROM PUBLIC;
CREATE TABLE IF NOT EXISTS privacy_key.hmac_pads (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    inner_pad bytea NOT NULL,
    outer_pad bytea NOT NULL,
    key_fingerprint text NOT NULL
);
REVOKE ALL ON privacy_key.hmac_pads FROM PUBLIC;
CREATE SCHEMA IF NOT EXISTS governance;
CREATE TABLE IF NOT EXISTS governance.key_rotations (
    rotated_at       timestamptz NOT NULL DEFAULT now(),
    old_fingerprint  text,
    new_fingerprint  text NOT NULL,
    rotated_by       text NOT NULL
);
COMMENT ON TABLE governance.key_rotations IS '令牌密钥轮换记录: 时间、旧/新密钥指纹 (不含密钥)、操作人';
"""


class TokenKeyError(RuntimeError):
    """No usable tokenization key, or not the one the warehouse was built with."""


def token_key() -> bytes:
    """HUILIU_TOKEN_KEY, else (local demo only) the generated key (created on first use)."""
    value = os.environ.get(KEY_VARIABLE)
    if value:
        if len(value) < 16:
            raise TokenKeyError(f"{KEY_VARIABLE} must be at least 16 characters")
        return value.encode("utf-8")
    if os.environ.get("HUILIU_DATABASE_URL"):
        raise TokenKeyError(f"HUILIU_DATABASE_URL is set: set {KEY_VARIABLE} as well "
                            f"(the demo key in {KEY_FILE} is for the local server only)")
    if not KEY_FILE.exists():
        write_private(KEY_FILE, secrets.token_hex(32) + "\n")
    return KEY_FILE.read_text().strip().encode("utf-8")


def new_demo_key() -> bytes:
    """A fresh demo key in KEY_FILE (the old one kept as token.key.old): what rotate-key uses locally."""
    if KEY_FILE.exists():
        write_private(KEY_FILE.with_name("token.key.old"), KEY_FILE.read_text())
    write_private(KEY_FILE, secrets.token_hex(32) + "\n")
    return KEY_FILE.read_text().strip().encode("utf-8")


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(BLOCK, b"\x00")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def fingerprint(key: bytes) -> str:
    """Names a key without revealing it: HMAC-SHA256(key, a fixed label), 16 hex characters."""
    return hmac.new(key, FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:16]


def _legacy_fingerprint(key: bytes) -> str:
    return hashlib.sha256(b"huiliu-key-fingerprint" + key).hexdigest()[:12]


def installed_fingerprint(conn: psycopg.Connection) -> str | None:
    if not conn.execute("SELECT to_regclass('privacy_key.hmac_pads')").fetchone()[0]:
        return None
    row = conn.execute("SELECT key_fingerprint FROM privacy_key.hmac_pads").fetchone()
    return row[0] if row else None


def install_key(conn: psycopg.Connection, key: bytes | None = None, *, rotate: bool = False) -> str:
    """Store the pads for the server-side token function; returns the key's fingerprint.

    Refuses a key other than the installed one unless `rotate` (then the change is recorded).
    """
    key = key if key is not None else token_key()
    inner, outer = hmac_pads(key)
    new = fingerprint(key)
    with serialized(conn, DDL_LOCK):  # two runs installing at once take turns
        conn.execute(PRIVATE_DDL)
        old = installed_fingerprint(conn)
        same = old is None or old in (new, _legacy_fingerprint(key))
        if not same and not rotate:
            raise TokenKeyError(
                f"the warehouse's tokens were made with key {old}, this run has key {new}: a run would "
                "re-key every token silently. Set the key the warehouse was built with, or rotate on "
                "purpose with `huiliu rotate-key` (every token re-keyed in one publish).")
        if rotate and old != new:
            conn.execute("INSERT INTO governance.key_rotations (old_fingerprint, new_fingerprint, rotated_by) "
                         "VALUES (%s, %s, %s)", (old, new, getpass.getuser()))
        conn.execute(
            "INSERT INTO privacy_key.hmac_pads (inner_pad, outer_pad, key_fingerprint) "
            "VALUES (%s, %s, %s) ON CONFLICT (singleton) DO UPDATE SET "
            "inner_pad = EXCLUDED.inner_pad, outer_pad = EXCLUDED.outer_pad, "
            "key_fingerprint = EXCLUDED.key_fingerprint",
            (inner, outer, new),
        )
    return new


def without_key(env: dict[str, str]) -> dict[str, str]:
    """An environment for a child process: everything but the token key (dbt and GX never need it)."""
    return {k: v for k, v in env.items() if k != KEY_VARIABLE}


@contextlib.contextmanager
def key_withheld() -> Iterator[None]:
    """Hide HUILIU_TOKEN_KEY from os.environ while a child process starts (dagster-dbt copies it)."""
    value = os.environ.pop(KEY_VARIABLE, None)
    try:
        yield
    finally:
        if value is not None:
            os.environ[KEY_VARIABLE] = value
