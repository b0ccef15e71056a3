"""The one way huiliu runs dbt outside Dagster's own resource: a command line and its environment.

Dagster steps run dbt through dagster-dbt's `DbtCliResource` (project.py); the lineage
gate's background `dbt compile` and the tests run it as a subprocess built here, with the
warehouse's connection as the HUILIU_PG_* variables the profile reads. The password
travels in the environment only, never on the command line; the token key not at all.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from pipelines.govern.token_key import without_key
from pipelines.paths import PROJECT_ROOT
from pipelines.warehouse import dbt_env

DBT_DIR = PROJECT_ROOT / "dbt_project"
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")


def command(args: Sequence[str], *, target_path: Path | None = None, log_path: Path | None = None
            ) -> list[str]:
    """`dbt <args>` against this project (and its profiles.yml)."""
    out = [DBT_EXECUTABLE, *args, "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR)]
    if target_path is not None:
        out += ["--target-path", str(target_path)]
    if log_path is not None:
        out += ["--log-path", str(log_path)]
    return out


def environment(url: str) -> dict[str, str]:
    """The connection as the profile reads it; never the token key (dbt does not need it)."""
    return without_key({**os.environ, **dbt_env(url), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})


def run(args: Sequence[str], url: str, *, target_path: Path | None = None, log_path: Path | None = None,
        timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run dbt to the end; stdout and stderr captured (dbt's own lines: names and counts only)."""
    return subprocess.run(command(args, target_path=target_path, log_path=log_path), env=environment(url),
                          capture_output=True, text=True, timeout=timeout)


def start(args: Sequence[str], url: str, *, target_path: Path | None = None, log_path: Path | None = None
          ) -> subprocess.Popen[str]:
    """Start dbt in the background (its output merged on stdout), e.g. a compile beside other work."""
    return subprocess.Popen(command(args, target_path=target_path, log_path=log_path), env=environment(url),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
