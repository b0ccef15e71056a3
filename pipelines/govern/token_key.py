"""The tokenization key: from HUILIU_TOKEN_KEY, into a table only the pipeline role reads.

Tokens are HMAC-SHA256 of the normalised value. The key never enters SQL text: it is
sent as a bind parameter (as the HMAC inner and outer pads, so the server needs only
its built-in sha256()), never through dbt, compiled SQL, logs or Dagster metadata.
The local demo generates a key into the git-ignored state folder.
"""

from __future__ import annotations

import hashlib
import os
import secrets

import psycopg

from pipelines.paths import STATE_DIR

KEY_FILE = STATE_DIR / "token.key"
BLOCK = 64  # SHA-256 block size

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
"""


class TokenKeyError(RuntimeError):
    """No usable tokenization key."""


def token_key() -> bytes:
    """HUILIU_TOKEN_KEY, else the local demo's generated key (created on first use)."""
    value = os.environ.get("HUILIU_TOKEN_KEY")
    if value:
        if len(value) < 16:
            raise TokenKeyError("HUILIU_TOKEN_KEY must be at least 16 characters")
        return value.encode("utf-8")
    if os.environ.get("HUILIU_DATABASE_URL") and not KEY_FILE.exists():
        raise TokenKeyError("HUILIU_DATABASE_URL is set: set HUILIU_TOKEN_KEY as well")
    if not KEY_FILE.exists():
        KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
        KEY_FILE.write_text(secrets.token_hex(32) + "\n")
        KEY_FILE.chmod(0o600)
    return KEY_FILE.read_text().strip().encode("utf-8")


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(BLOCK, b"\x00")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def install_key(conn: psycopg.Connection, key: bytes | None = None) -> str:
    """Store the pads for the server-side token function; returns a key fingerprint."""
    key = key if key is not None else token_key()
    inner, outer = hmac_pads(key)
    fingerprint = hashlib.sha256(b"huiliu-key-fingerprint" + key).hexdigest()[:12]
    with conn.transaction():
        conn.execute(PRIVATE_DDL)
        conn.execute(
            "INSERT INTO privacy_key.hmac_pads (inner_pad, outer_pad, key_fingerprint) "
            "VALUES (%s, %s, %s) ON CONFLICT (singleton) DO UPDATE SET "
            "inner_pad = EXCLUDED.inner_pad, outer_pad = EXCLUDED.outer_pad, "
            "key_fingerprint = EXCLUDED.key_fingerprint",
            (inner, outer, fingerprint),
        )
    return fingerprint
