"""`make ui`: the Dagster webserver and daemon on a persistent instance.

Run, event-log and schedule storage live in a database of the project's PostgreSQL
(dagster-postgres; `dagster` unless HUILIU_DAGSTER_DB names another), so history survives
a restart. The connection reaches dagster.yaml through environment variables, never
written into the file.

Environment: DAGSTER_HOME (default `<HUILIU_STATE_DIR>/dagster_home`), HUILIU_DAGSTER_DB,
HUILIU_UI_PORT (default 3000); the warehouse comes from HUILIU_DATABASE_URL as everywhere.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from pipelines.paths import PROJECT_ROOT, STATE_DIR
from pipelines.resources import Warehouse
from pipelines.warehouse import database_url, ensure_database, with_database

DEFAULT_DAGSTER_HOME = STATE_DIR / "dagster_home"
DEFAULT_DAGSTER_DB = "dagster"
MARK = "# Written by `make ui`"  # a dagster.yaml that starts otherwise is someone else's
HEADER = MARK + " (pipelines/instance/ui.py)."

# Pools: every asset that writes the warehouse is in pool `huiliu_warehouse`; with run
# granularity and a default limit of 1, a run that needs the pool stays queued while
# another holds it, so two runs never write the warehouse at once. Like telemetry, the
# "Join the Dagster community" dialog (links and a form to outside services) is off.
INSTANCE_YAML = HEADER + """ Connection values come from the environment.
storage:
  postgres:
    postgres_db:
      username: {{env: HUILIU_PG_USER}}
      password: {{env: HUILIU_PG_PASSWORD}}
      hostname: {{env: HUILIU_PG_HOST}}
      port: {{env: HUILIU_PG_PORT}}
      db_name: {db_name}
      scheme: postgresql+psycopg2
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
concurrency:
  pools:
    granularity: run
    default_limit: 1
telemetry:
  enabled: false
nux:
  enabled: false
"""


def dagster_home() -> Path:
    """DAGSTER_HOME when set, else the project's state directory."""
    return Path(os.environ.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME)


def dagster_db() -> str:
    return os.environ.get("HUILIU_DAGSTER_DB") or DEFAULT_DAGSTER_DB


def prepare_instance() -> dict[str, str]:
    """Create the instance database and DAGSTER_HOME/dagster.yaml; return the environment."""
    url = database_url()
    home, db_name = dagster_home(), dagster_db()
    ensure_database(with_database(url, "postgres"), db_name)  # validates the name
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if config.exists() and not config.read_text().startswith(MARK):
        raise SystemExit(f"{config} was not written by `make ui`; refusing to overwrite it "
                         "(unset DAGSTER_HOME or point it at another directory)")
    config.write_text(INSTANCE_YAML.format(db_name=db_name))
    env = dict(os.environ)
    env.update(Warehouse(url=url).dbt_env())
    env["DAGSTER_HOME"] = str(home)
    return env


def main() -> None:
    env = prepare_instance()
    port = env.get("HUILIU_UI_PORT", "3000")
    dagster = str(Path(sys.executable).parent / "dagster")
    print(f"huiliu UI: http://127.0.0.1:{port}  (instance: {env['DAGSTER_HOME']}, "
          f"database {dagster_db()})", flush=True)
    cmd = [dagster, "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", "127.0.0.1",
           "-p", port]
    envcmd = shutil.which("env") or "/usr/bin/env"
    # `dagster dev` ignores SIGINT/SIGTERM when started from a script: restore them.
    os.execve(envcmd, [envcmd, "--default-signal=INT,TERM", *cmd], env)


if __name__ == "__main__":
    main()
