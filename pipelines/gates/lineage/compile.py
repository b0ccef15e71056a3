"""Where the lineage proof's SQL comes from: dbt's compiled models, from a manifest or a fresh compile.

The tier SQL depends on governance.column_catalog at compile time, so compiling under the
publish lock, right after the tiers were built, yields the SQL that built them.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import psycopg

from pipelines.tiers import dbt, parse_cache
from pipelines.tiers.dbt import DBT_DIR
from pipelines.warehouse import url_of

COMPILE_SELECT = "+path:models/tiers,resource_type:model"


def compiled_models(manifests: Iterable[Path | str]) -> dict[str, str]:
    """schema.name → compiled SQL of every compiled model in dbt manifests (later ones win)."""
    out: dict[str, str] = {}
    for path in manifests:
        p = Path(path)
        if p.is_dir():
            p = p / "manifest.json"
        nodes = json.loads(p.read_text(encoding="utf-8")).get("nodes", {})
        for node in nodes.values():
            if node.get("resource_type") == "model" and node.get("compiled_code"):
                out[f"{node['schema']}.{node['name']}"] = node["compiled_code"]
    return out


class Compilation:
    """A `dbt compile` of the tier models and everything upstream, running in the background.

    The tier SQL depends on governance.column_catalog at compile time, so compiling under the
    publish lock, right after the tiers were built, yields the SQL that built them. One target
    path per database keeps dbt's partial parsing (about 9 s instead of 17 s); compile runs no
    hooks and writes nothing to the database.
    """

    def __init__(self, conn: psycopg.Connection, target_path: Path | None = None) -> None:
        self.target = target_path or DBT_DIR / "target" / f"gates_lineage_{conn.info.dbname}"
        self.target.mkdir(parents=True, exist_ok=True)
        parse_cache.seed(self.target, url_of(conn))
        self._logs = tempfile.TemporaryDirectory(prefix="huiliu_dbt_log_")
        self.started = time.monotonic()
        self._proc = dbt.start(["compile", "--select", COMPILE_SELECT, "--quiet"], url_of(conn),
                               target_path=self.target, log_path=Path(self._logs.name))

    def cancel(self) -> None:
        """Stop the compile (the gate is abandoned)."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.communicate()
        self._logs.cleanup()

    def result(self, timeout: float = 600) -> dict[str, str]:
        """schema.name → compiled SQL; raises RuntimeError when dbt failed."""
        try:
            out, _ = self._proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.communicate()
            raise RuntimeError(f"dbt compile did not finish in {timeout:.0f} s") from None
        finally:
            self.seconds = time.monotonic() - self.started
            self._logs.cleanup()
        if self._proc.returncode != 0:
            raise RuntimeError("dbt compile failed: " + " | ".join((out or "").strip().splitlines()[-5:]))
        return compiled_models([self.target])
