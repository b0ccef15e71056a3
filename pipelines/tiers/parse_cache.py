"""dbt's partial-parse state, kept per database, so every dbt invocation of a run skips the parse.

dbt reuses `partial_parse.msgpack` only when the profile's connection is the one it was written
with, and dagster-dbt seeds each invocation's fresh target path from `target/`, written once with
placeholder connection values: every invocation parsed the whole project again (3–5 s each, three
per run: main build, tier build, the lineage gate's compile). Here each successful invocation
leaves its state under a key of its connection (host, port, database, user; never the password)
and the next invocation on that database starts from it. dbt still checks the state (files,
vars, env vars, profile) and parses in full when it does not fit, so a stale entry costs nothing
but the parse it would have cost anyway.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from pipelines.tiers.dbt import DBT_DIR

STATE = "partial_parse.msgpack"
CACHE_DIR = DBT_DIR / "target" / "partial_parse"


def _key(url: str) -> str:
    info = conninfo_to_dict(url)
    where = "|".join(str(info.get(k) or "") for k in ("host", "port", "dbname", "user"))
    return hashlib.sha256(where.encode()).hexdigest()[:16]


def cached(url: str) -> Path:
    return CACHE_DIR / f"{_key(url)}.msgpack"


def new_target(name: str, url: str) -> Path:
    """A fresh target path for one invocation (as dagster-dbt makes), seeded from the cache."""
    target = DBT_DIR / "target" / f"{name}-{uuid.uuid4().hex[:12]}"
    seed(target, url)
    return target


def seed(target: Path, url: str) -> None:
    """Start `target` from this database's last state, unless it has its own."""
    source, mine = cached(url), target / STATE
    if mine.exists() or not source.exists():
        return
    target.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copyfile(source, mine)
    except OSError:
        pass  # replaced meanwhile: dbt parses in full, as without a cache


def keep(target: Path, url: str) -> None:
    """After a successful invocation: its state becomes this database's (replaced atomically, so a
    run copying it meanwhile reads one whole file)."""
    state = target / STATE
    if not state.exists():
        return
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    part = CACHE_DIR / f".{_key(url)}.{os.getpid()}.{uuid.uuid4().hex[:6]}"
    shutil.copyfile(state, part)
    part.replace(cached(url))
