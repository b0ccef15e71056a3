"""Helpers for tests/test_staging.py: a private database, raw fixtures, and dbt runs.

Every identity number, phone and name here is made up (valid checksums, fictitious people).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from pipelines.contract import DATASETS, id_check_char, upgrade_id15, uscc_check_char
from pipelines.tiers import dbt
from pipelines.tiers.dbt import DBT_DIR as DBT_PROJECT
from pipelines.warehouse import drop_database, ensure_database, with_database

# --- made-up values -------------------------------------------------------------------


def make_id(birth: str = "19900307", seq: str = "123", area: str = "330683") -> str:
    """A valid 18-character identity number (GB 11643 check character)."""
    body = f"{area}{birth}{seq}"
    assert len(body) == 17, body
    return body + id_check_char(body)


def make_id15(birth6: str = "900307", seq: str = "123", area: str = "330683") -> tuple[str, str]:
    """A legacy 15-digit identity number and its 18-character upgrade."""
    old = f"{area}{birth6}{seq}"
    assert len(old) == 15, old
    return old, upgrade_id15(old)


def with_wrong_check(id18: str) -> str:
    good = id18[17]
    return id18[:17] + ("0" if good != "0" else "1")


def make_uscc(body17: str = "91330683MA2BCDEF1") -> str:
    """A valid unified social credit code (GB 32100 check character)."""
    assert len(body17) == 17, body17
    return body17 + uscc_check_char(body17)


FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def fullwidth(s: str) -> str:
    return s.translate(FULLWIDTH)


# --- a private database with the raw and governance relations ---------------------------


@dataclass
class DbtResult:
    args: list[str]
    returncode: int
    stdout: str
    seconds: float


def run_dbt(url: str, *args: str, target_dir: Path | None = None) -> DbtResult:
    """Run dbt against the database of `url` (target and logs kept apart from the project's)."""
    target_dir = target_dir or DBT_PROJECT / "target" / "pytest_staging"
    started = time.monotonic()
    proc = dbt.run(args, url, target_path=target_dir, log_path=target_dir / "logs", timeout=900)
    return DbtResult(list(args), proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started)


@dataclass
class RawFixtures:
    """Inserts governance.batch_files rows and raw records with plain INSERTs."""

    conn: psycopg.Connection
    delivery_seq: int = 0
    files: dict[int, dict] = field(default_factory=dict)

    def add_file(
        self,
        dataset: str,
        batch_date: str | dt.date,
        status: str = "loaded",
        delivery: str | None = None,
        rows: Iterable[Mapping[str, str | None] | Sequence[str | None]] = (),
        reason: str | None = None,
        first_line: int = 2,
    ) -> int:
        """One file of `dataset` with its records (line numbers from `first_line`).

        A record is a mapping column -> value (missing columns are NULL) or a sequence of
        raw fields; a sequence with the wrong number of fields is a field_count fault and is
        stored like ingestion stores it: field_count set, every column NULL.
        """
        ds = DATASETS[dataset]
        self.delivery_seq += 1
        delivery = delivery or f"delivery-{self.delivery_seq:04d}"
        rows = list(rows)
        file_id = self.conn.execute(
            "INSERT INTO governance.batch_files (source, batch_date, delivery, dataset, path,"
            " encoding, mode, status, reason, rows_received) VALUES"
            " (%s, %s, %s, %s, %s, 'utf-8', %s, %s, %s, %s) RETURNING file_id",
            (ds.source, batch_date, delivery, dataset, f"{dataset}.csv", ds.mode, status, reason,
             len(rows)),
        ).fetchone()[0]
        self.files[file_id] = {"dataset": dataset, "batch_date": str(batch_date),
                               "status": status, "rows": len(rows)}
        cols = ds.column_names
        insert = sql.SQL(
            "INSERT INTO raw.{} (file_id, line_number, field_count, {}) VALUES ({})"
        ).format(
            sql.Identifier(dataset),
            sql.SQL(", ").join(map(sql.Identifier, cols)),
            sql.SQL(", ").join(sql.Placeholder() * (3 + len(cols))),
        )
        with self.conn.cursor() as cur:
            for i, row in enumerate(rows):
                line = first_line + i
                if isinstance(row, Mapping):
                    unknown = set(row) - set(cols)
                    assert not unknown, f"{dataset} has no column(s) {unknown}"
                    values = [row.get(c) for c in cols]
                    count = len(cols)
                else:
                    count = len(row)
                    values = list(row) if count == len(cols) else [None] * len(cols)
                cur.execute(insert, (file_id, line, count, *values))
        return file_id


def create_database(admin_url: str, name: str, key: bytes = b"staging-tests-token-key") -> str:
    """Drop and recreate `name`, with the raw and governance relations, the divisions and a token key."""
    from pipelines.govern.token_key import install_key
    from pipelines.ingest.schema import ensure_schemas, sync_divisions
    from pipelines.topology import load_topology

    drop_database(admin_url, name)
    ensure_database(admin_url, name)
    url = with_database(admin_url, name)
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_schemas(conn)
        sync_divisions(conn, load_topology())
        install_key(conn, key)  # as the pipeline does before dbt
    return url


def fetch_dicts(conn: psycopg.Connection, query: str, params: Sequence | None = None) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return list(cur.execute(query, params))
