"""The dbt project as Dagster sees it: DbtProject, a prepared manifest, and the translator.

The manifest is prepared on import when it is missing or older than the dbt sources, so
`huiliu run`, the tests and the UI never need a manual `dbt parse`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject
from packaging import version

from pipelines.govern.token_key import key_withheld
from pipelines.tiers import ledgers, screenings
from pipelines.tiers.dbt import DBT_DIR, DBT_EXECUTABLE

dbt_project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)

# Asset groups read as the architecture: ingest → staging → governance → ledgers → topics → tiers → publish. The
# protected models (tokens computed with the catalog's policy) govern, they do not stage.
_GROUP_BY_FOLDER = {"staging": "staging", "intermediate": "staging", "governance": "governance",
                    "privacy": "governance", "protected": "governance"}

_PARSE_PLACEHOLDERS = {
    "HUILIU_PG_HOST": "127.0.0.1", "HUILIU_PG_PORT": "5432", "HUILIU_PG_USER": "huiliu",
    "HUILIU_PG_PASSWORD": "", "HUILIU_PG_DBNAME": "huiliu",
}


_WATCHED = ("models", "macros", "seeds", "tests", "dbt_project.yml", "profiles.yml")


def _newest_source() -> float:
    newest = 0.0
    for name in _WATCHED:
        path = DBT_DIR / name
        files = path.rglob("*") if path.is_dir() else [path]
        newest = max([newest, *(f.stat().st_mtime for f in files if f.is_file())])
    return newest


def _sources_changed_since(manifest: Path) -> bool:
    return not manifest.exists() or _newest_source() > manifest.stat().st_mtime


def prepare_manifest() -> Path:
    """Run `dbt parse` when the manifest is missing or stale; return its path.

    Parsing needs no connection, but the profile reads HUILIU_PG_*: placeholders stand in
    when they are unset (a run sets the real ones; dbt then re-parses once).
    """
    ledgers.require_current()  # tags and rules are checked before any run, not when dbt meets them
    screenings.require_current()
    if _sources_changed_since(dbt_project.manifest_path):
        os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        for name, value in _PARSE_PLACEHOLDERS.items():
            os.environ.setdefault(name, value)
        parsed = _newest_source()  # what this parse reads: a file edited meanwhile is newer
        with key_withheld():
            invocation = dbt_resource.cli(["parse", "--quiet"], target_path=dbt_project.target_path)
        invocation.wait()
        # the manifest is as new as the sources it was parsed from, not as the moment it was
        # written: otherwise a file saved during the parse would look parsed and never be
        os.utime(dbt_project.manifest_path, (parsed, parsed))
    return dbt_project.manifest_path


class HuiliuTranslator(DagsterDbtTranslator):
    """Keys are [schema, name], so dbt sources line up with the ingest assets."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        schema = dbt_resource_props.get("config", {}).get("schema") or "public"
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        folder = fqn[1] if len(fqn) > 2 else "staging"
        return _GROUP_BY_FOLDER.get(folder, folder)

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        """Which dbt model (or source) this is and where it lives, then dbt's own description: the UI's
        asset page points at the same node `make docs` documents."""
        kind, name = dbt_resource_props["resource_type"], dbt_resource_props["name"]
        where = dbt_resource_props.get("original_file_path") or ""
        head = f"dbt {kind} `{name}`" + (f" ({where})" if where else "")
        body = (dbt_resource_props.get("description") or "").strip()
        return f"{head}: {body}" if body else head

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return ["team:data-engineering"]


class HuiliuDbtCli(DbtCliResource):
    """dagster-dbt's resource without two costs of every step that runs dbt.

    Before its first invocation in a process dagster-dbt runs `dbt --version` (a subprocess that
    imports dbt, ~2 s) to learn the version of the executable — huiliu's is the dbt-core
    installed beside it — and loads dbt-core, the profile and the project in-process to hold an
    adapter, used only to fetch column metadata and row counts, which huiliu never asks for
    (~3 s). Together about a seventh of a small run.
    """

    @property
    def _cli_version(self) -> version.Version:
        return version.parse(metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> Any:
        return None


dbt_resource = HuiliuDbtCli(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE)
