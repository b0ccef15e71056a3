"""The privacy.* functions (dbt_project/macros/privacy/functions.sql) in a fresh database.

The functions are created the way production creates them: by dbt's on-run-start hook, here in
a `dbt build` of the seed `privacy_vectors` and the model `privacy_examples` (the token key
installed beforehand with bind parameters, and also present in dbt's environment as
HUILIU_TOKEN_KEY, as in production). Then:
  - privacy.token is HMAC-SHA256 (Python's hmac) for ASCII and four-byte values, NULL for NULL
    and '', also for keys of exactly 64 and more than 64 bytes (hashed first, RFC 2104);
  - the key (or its HMAC pads) appears in no file under dbt_project/target;
  - no function of schema privacy is executable by PUBLIC (a fresh NOLOGIN role), nor the key
    table readable, and calling privacy.token as that role is refused;
  - generalize_address gives town + village for a village code, the town for town9 + '000';
  - the dbt unit tests of privacy_examples (every masking vector) pass;
  - the materialized view privacy_examples holds every seed vector, none with a clear number.

Run: .venv/bin/python -m pytest tests/test_privacy_functions.py -q
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
from collections.abc import Iterator

import psycopg
import pytest
from support.staging import DBT_PROJECT, run_dbt

from pipelines.govern.token_key import hmac_pads, install_key
from pipelines.ingest.schema import ensure_schemas, sync_divisions
from pipelines.topology import load_topology

TARGET = DBT_PROJECT / "target" / "pytest_privacy"
KEY = b"huiliu-privacy-test-key-7f3c9a51e2"  # a test key: known, so tokens can be recomputed
KEY_64 = bytes(range(64))  # exactly one SHA-256 block: used as is
KEY_LONG = b"k" * 37 + b"\xe5\x9b\x9e\xe6\xb5\x81" * 11  # 103 bytes: hashed to 32 first
UNIT_TESTS = {
    "privacy_mask_name", "privacy_mask_phone", "privacy_mask_id", "privacy_mask_account",
    "privacy_mask_free_text",
}


def expected_token(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


@pytest.fixture(scope="module")
def privacy_db(warehouse_url: str) -> Iterator[str]:
    """The test database with divisions, the test key and the privacy functions (via dbt)."""
    with psycopg.connect(warehouse_url, autocommit=True) as c:
        ensure_schemas(c)
        sync_divisions(c, load_topology())
        install_key(c, KEY)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HUILIU_TOKEN_KEY", KEY.decode())
        result = run_dbt(
            warehouse_url, "build", "--select", "privacy_vectors", "privacy_examples",
            "--exclude-resource-type", "unit_test", target_dir=TARGET,
        )
    assert result.returncode == 0, result.stdout[-4000:]
    yield warehouse_url


@pytest.fixture
def db(privacy_db: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(privacy_db, autocommit=True) as c:
        yield c


def token(conn: psycopg.Connection, value: str | None) -> str | None:
    return conn.execute("SELECT privacy.token(%s)", (value,)).fetchone()[0]


# --- token -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["330683199003071236", "33068319850612100X", "13800138000", "a", "张三", "𠀾小明",
     "阿依·买买提 𠀾 x"],
)
def test_token_is_hmac_sha256(db: psycopg.Connection, value: str) -> None:
    assert token(db, value) == expected_token(KEY, value)


def test_token_of_null_and_empty_is_null(db: psycopg.Connection) -> None:
    assert token(db, None) is None
    assert token(db, "") is None


BULK_TOKEN = ("SELECT privacy.token_with(v.x, k.inner_pad, k.outer_pad) FROM (VALUES (%s::text)) AS v (x) "
              "LEFT JOIN privacy_key.hmac_pads AS k ON true")


@pytest.mark.parametrize("value", ["330683199003071236", "𠀾小明", "", None])
def test_the_bulk_token_is_the_same_hmac(db: psycopg.Connection, value: str | None) -> None:
    """token_with, as the protected models call it (the pads joined once), is token() exactly."""
    assert db.execute(BULK_TOKEN, (value,)).fetchone()[0] == token(db, value)


def test_the_bulk_token_is_inlined(db: psycopg.Connection) -> None:
    """PostgreSQL inlines token_with: the plan computes sha256 itself, no function call per row."""
    plan = "\n".join(r[0] for r in db.execute("EXPLAIN (VERBOSE) " + BULK_TOKEN, ("330683199003071236",)))
    assert "sha256(" in plan and "token_with" not in plan


@pytest.mark.parametrize("key", [KEY_64, KEY_LONG], ids=["64-bytes", "103-bytes"])
def test_token_with_block_sized_and_long_keys(privacy_db: str, key: bytes) -> None:
    # install_key (a rotation, on purpose) inside a transaction that is rolled back: the module's
    # key stays installed
    with psycopg.connect(privacy_db) as c:
        c.execute("SELECT 1")  # a transaction is open: install_key's own becomes a savepoint
        install_key(c, key, rotate=True)
        for value in ("330683199003071236", "𠀾小明"):
            assert token(c, value) == expected_token(key, value)
        assert token(c, "330683199003071236") != expected_token(KEY, "330683199003071236")
        c.rollback()
    with psycopg.connect(privacy_db) as c:
        assert token(c, "x") == expected_token(KEY, "x")


def test_key_never_reaches_dbt_target(privacy_db: str) -> None:
    inner, outer = hmac_pads(KEY)
    needles = [KEY, KEY.hex().encode(), inner.hex().encode(), outer.hex().encode()]
    hook = TARGET / "compiled" / "huiliu" / "dbt_project.yml" / "hooks"
    compiled_hooks = "".join(p.read_text() for p in hook.glob("*.sql"))
    assert "privacy.token" in compiled_hooks  # the compiled function DDL is among the scanned
    files = [p for p in (DBT_PROJECT / "target").rglob("*") if p.is_file()]
    assert files
    leaking = [str(p) for p in files if any(n in p.read_bytes() for n in needles)]
    assert leaking == []


# --- privileges --------------------------------------------------------------------------


@pytest.fixture
def probe_role(db: psycopg.Connection) -> Iterator[str]:
    """A fresh NOLOGIN role (cluster-wide: dropped afterwards) with PUBLIC's rights only."""
    role = f"huiliu_privacy_probe_{os.getpid()}"
    db.execute(f'DROP ROLE IF EXISTS "{role}"')
    db.execute(f'CREATE ROLE "{role}" NOLOGIN')
    try:
        yield role
    finally:
        db.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_privacy_functions_not_executable_by_public(
    db: psycopg.Connection, probe_role: str
) -> None:
    rows = db.execute(
        "SELECT p.oid::regprocedure::text, has_function_privilege(%s, p.oid, 'EXECUTE') "
        "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'privacy' ORDER BY 1",
        (probe_role,),
    ).fetchall()
    names = {sig.split("(")[0] for sig, _ in rows}
    assert {"privacy.mask_name", "privacy.mask_phone", "privacy.mask_id", "privacy.mask_account",
            "privacy.mask_free_text", "privacy.token", "privacy.token_with", "privacy.generalize_address",
            "privacy.generalize_date"} <= names
    assert [sig for sig, allowed in rows if allowed] == []
    assert db.execute(
        "SELECT has_schema_privilege(%s, 'privacy', 'USAGE'), "
        "has_table_privilege(%s, 'privacy_key.hmac_pads', 'SELECT')",
        (probe_role, probe_role),
    ).fetchone() == (False, False)
    # and in practice: the role cannot tokenize a guessed value
    with pytest.raises(psycopg.errors.InsufficientPrivilege), db.transaction():
        db.execute(f'SET LOCAL ROLE "{probe_role}"')
        db.execute("SELECT privacy.token('330683199003071236')")


# --- generalize ---------------------------------------------------------------------------


def test_generalize_address(db: psycopg.Connection) -> None:
    topology = load_topology()
    village = topology.villages[0]
    town = next(t for t in topology.towns if t.code == village.town_code)
    assert len(village.code) == 12 and len(town.code) == 9

    def generalize(code: str | None) -> str | None:
        return db.execute("SELECT privacy.generalize_address(%s)", (code,)).fetchone()[0]

    assert generalize(village.code) == town.name + village.name
    assert generalize(town.code + "000") == town.name
    assert generalize(town.code) == town.name
    assert generalize("330102001001") is None  # another county's code
    assert generalize(None) is None


def test_generalize_date(db: psycopg.Connection) -> None:
    assert db.execute(
        "SELECT privacy.generalize_date(%s), privacy.generalize_date(NULL)", (dt.date(1990, 3, 7),)
    ).fetchone() == (1990, None)


# --- the masking vectors -----------------------------------------------------------------


def test_dbt_unit_tests_of_privacy_examples(privacy_db: str) -> None:
    result = run_dbt(
        privacy_db, "test", "--select", "privacy_examples,test_type:unit", target_dir=TARGET
    )
    assert result.returncode == 0, result.stdout[-6000:]
    results = json.loads((TARGET / "run_results.json").read_text())["results"]
    passed = {r["unique_id"].rsplit(".", 1)[-1] for r in results if r["status"] == "pass"}
    assert UNIT_TESTS <= passed, result.stdout[-3000:]


def test_privacy_examples_cover_every_vector(db: psycopg.Connection) -> None:
    relkind = db.execute("SELECT 'governance.privacy_examples'::regclass::oid").fetchone()[0]
    assert db.execute("SELECT relkind FROM pg_class WHERE oid = %s", (relkind,)).fetchone() == (
        "m",
    )
    rows = db.execute(
        "SELECT kind, input, output, clear_number_left FROM governance.privacy_examples"
    ).fetchall()
    seed = db.execute("SELECT count(*) FROM governance.privacy_vectors").fetchone()[0]
    assert len(rows) == seed >= 30
    assert {k for k, *_ in rows} == {"name", "phone", "id", "account", "free_text"}
    assert [r for r in rows if r[3]] == []
    # every non-empty personal value changed (free text without personal data may not)
    unchanged = [r for r in rows if r[1] and r[1] == r[2]]
    assert all(k == "free_text" for k, *_ in unchanged), unchanged
