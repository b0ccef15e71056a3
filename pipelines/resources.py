"""Dagster resources: the warehouse connection and the landing directory."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import psycopg

from pipelines.paths import STATE_DIR
from pipelines.warehouse import database_url, dbt_env

DEFAULT_LANDING = str(STATE_DIR / "landing")

# The Dagster concurrency pool of every step that writes the warehouse. With the instance's
# `concurrency.pools` (granularity run, limit 1, see pipelines/instance/ui.py) runs that write never
# overlap in the UI's queue; the advisory lock still serializes build → publish for `huiliu run`.
WAREHOUSE_POOL = "huiliu_warehouse"


class Warehouse(dg.ConfigurableResource):
    """PostgreSQL: HUILIU_DATABASE_URL, else the project's local server (started on demand)."""

    url: str | None = None

    def resolved_url(self) -> str:
        return self.url or database_url()

    def connect(self, autocommit: bool = True) -> psycopg.Connection:
        return psycopg.connect(self.resolved_url(), autocommit=autocommit)

    def dbt_env(self) -> dict[str, str]:
        """The connection as the HUILIU_PG_* variables dbt's profile reads."""
        return dbt_env(self.resolved_url())


class Landing(dg.ConfigurableResource):
    """Where the province and the city drop their batches."""

    path: str = os.environ.get("HUILIU_LANDING", DEFAULT_LANDING)

    @property
    def root(self) -> Path:
        return Path(self.path)
