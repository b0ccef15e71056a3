"""`make ui`: the Dagster webserver and daemon on a persistent instance.

Run, event-log and schedule storage live in database `dagster` of the project's PostgreSQL
(dagster-postgres), so history survives a restart. The connection reaches dagster.yaml
through environment variables, never written into the file.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from pipelines.resources import Warehouse
from pipelines.topology import PROJECT_ROOT
from pipelines.warehouse import STATE_DIR, _with_database, database_url, ensure_database

DAGSTER_HOME = STATE_DIR / "dagster_home"

INSTANCE_YAML = """\
# Written by `make ui` (pipelines/ops/ui.py). Connection values come from the environment.
storage:
  postgres:
    postgres_db:
      username: {env: HUILIU_PG_USER}
      password: {env: HUILIU_PG_PASSWORD}
      hostname: {env: HUILIU_PG_HOST}
      port: {env: HUILIU_PG_PORT}
      db_name: dagster
      scheme: postgresql+psycopg2
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
telemetry:
  enabled: false
"""


def prepare_instance() -> dict[str, str]:
    """Create database `dagster` and DAGSTER_HOME/dagster.yaml; return the environment."""
    url = database_url()
    ensure_database(_with_database(url, "postgres"), "dagster")
    DAGSTER_HOME.mkdir(parents=True, exist_ok=True)
    (DAGSTER_HOME / "dagster.yaml").write_text(INSTANCE_YAML)
    env = dict(os.environ)
    env.update(Warehouse(url=url).dbt_env())
    env["DAGSTER_HOME"] = str(DAGSTER_HOME)
    return env


def main() -> None:
    env = prepare_instance()
    port = env.get("HUILIU_UI_PORT", "3000")
    dagster = str(Path(sys.executable).parent / "dagster")
    print(f"huiliu UI: http://127.0.0.1:{port}  (instance: {DAGSTER_HOME})", flush=True)
    cmd = [dagster, "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", "127.0.0.1",
           "-p", port]
    envcmd = shutil.which("env") or "/usr/bin/env"
    # `dagster dev` ignores SIGINT/SIGTERM when started from a script: restore them.
    os.execve(envcmd, [envcmd, "--default-signal=INT,TERM", *cmd], env)


if __name__ == "__main__":
    main()
