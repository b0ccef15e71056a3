"""`make docs`: dbt's documentation site — models, lineage graph, columns — over the warehouse as built.

`dbt docs generate` against the warehouse (the local one after `make demo`) writes the manifest and
the catalog; the catalog carries every column's COMMENT from the database, which for the protected,
ledger, topic and tier relations is the catalog's Chinese label with class, grade and action
(`label | class | grade | action`), so the site shows what `\\d+` shows. The site is static files
under `.huiliu/docs/`; `--serve` serves them on 127.0.0.1 (dbt docs serve, no browser opened).
The token key never reaches dbt (tiers/dbt.py); the site holds names and comments, no data value.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg

from pipelines.paths import STATE_DIR
from pipelines.tiers import dbt
from pipelines.warehouse import database_url

DOCS_DIR = STATE_DIR / "docs"
DEFAULT_PORT = 8580


class DocsError(RuntimeError):
    """dbt could not build the site; the message carries dbt's last lines (names, never values)."""


def generate(url: str, target: Path = DOCS_DIR) -> Path:
    """Build the site into `target`; its index.html."""
    target.mkdir(parents=True, exist_ok=True)
    proc = dbt.run(["docs", "generate", "--quiet"], url, target_path=target, log_path=target / "logs")
    if proc.returncode != 0:
        raise DocsError("dbt docs generate failed: " + " | ".join((proc.stdout + proc.stderr).strip()
                                                                  .splitlines()[-5:]))
    return target / "index.html"


# A tier model's table is adopted into a version at publish (publish/build.py): what stands for it in
# the database is its published view, which carries the same columns and COMMENTs.
PUBLISHED_COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnum, col_description(c.oid, a.attnum),
       obj_description(c.oid, 'pg_class'), pg_get_userbyid(c.relowner)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = 'published' ORDER BY c.relname, a.attnum
"""
NO_STATS = {"has_stats": {"id": "has_stats", "label": "Has Stats?", "value": False, "include": False,
                          "description": "Indicates whether there are statistics for this table"}}


def add_published(target: Path, url: str) -> int:
    """Give the catalog the tier models dbt found no table for: their published views' columns and
    comments (label | class | grade | action). How many models it added."""
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    catalog_path = target / "catalog.json"
    catalog = json.loads(catalog_path.read_text(encoding="utf-8"))
    tiers = {n["name"]: uid for uid, n in manifest["nodes"].items()
             if n["resource_type"] == "model" and n.get("config", {}).get("schema") == "tiers"}
    with psycopg.connect(url) as conn:
        rows = conn.execute(PUBLISHED_COLUMNS).fetchall()
        database = conn.info.dbname
    mine: set[str] = set()  # the models added here (a model dbt found a table for keeps dbt's entry)
    for rel, col, typ, index, comment, rel_comment, owner in rows:
        uid = tiers.get(rel)
        if uid is None or (uid in catalog["nodes"] and uid not in mine):
            continue
        mine.add(uid)
        node = catalog["nodes"].setdefault(uid, {
            "metadata": {"type": "VIEW", "schema": "published", "name": rel, "database": database,
                         "comment": rel_comment, "owner": owner},
            "columns": {}, "stats": NO_STATS, "unique_id": uid})
        node["columns"][col] = {"type": typ, "index": index, "name": col, "comment": comment}
    catalog_path.write_text(json.dumps(catalog, ensure_ascii=False), encoding="utf-8")
    return len(mine)


def documented_columns(target: Path, model: str) -> dict[str, str]:
    """column → its comment in the site's catalog, for one model (what the site shows for it)."""
    nodes = json.loads((target / "catalog.json").read_text(encoding="utf-8"))["nodes"]
    node = nodes.get(f"model.huiliu.{model}", {})
    return {c: (v.get("comment") or "") for c, v in node.get("columns", {}).items()}


def serve(url: str, target: Path = DOCS_DIR, port: int = DEFAULT_PORT) -> int:
    """Serve the built site until interrupted (Ctrl-C)."""
    print(f"dbt docs: http://127.0.0.1:{port}/ (Ctrl-C stops it)", flush=True)
    try:
        return subprocess.call(dbt.command(["docs", "serve", "--host", "127.0.0.1", "--port", str(port),
                                            "--no-browser"], target_path=target), env=dbt.environment(url))
    except KeyboardInterrupt:
        return 0


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    url = database_url()
    index = generate(url)
    added = add_published(DOCS_DIR, url)
    print(f"built {index} ({added} tier models documented from their published views)")
    if "--serve" in args:
        port = int(args[args.index("--port") + 1]) if "--port" in args else DEFAULT_PORT
        return serve(url, DOCS_DIR, port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
