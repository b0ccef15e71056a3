"""Benchmark: split + publish wall time with the county's 319 towns and villages, and with 10×.

For each topology it plants stand-in tiers.* tables (synthetic rows, pipelines/publish/
standin.py; what `dbt build --select path:models/tiers` produces for the real layer, and not
counted) with the same row counts — 1,000,000 household_registration rows and smaller other
datasets by default — in a database of its own (`huiliu_bench_publish`), then runs
`publish()` three times: the first publish (which also creates every unit schema, role,
view, grant and COMMENT), a steady-state republish (a new version of the same layout, as
every night; dbt's tables are adopted, not copied) and a steady-state republish with
adopt="copy". It prints the time of each phase, the switch's duration and lock count, and
what a village and a town query cost afterwards. The 10× topology keeps the 15 towns and gives each
ten times its villages, with made-up codes (suffixes 400–999) whose roles are dropped at the end.

Usage: python benchmarks/bench_publish.py [--rows 1000000] [--only real|tenfold]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from typing import Any

import psycopg
import yaml
from psycopg import sql

from huiliu_dev.standin import create_standin, spread
from pipelines.publish import publish
from pipelines.topology import DEFAULT_PATH, Topology, load_topology, parse_topology
from pipelines.warehouse import database_url, drop_database, ensure_database, with_database

DAY = dt.date(2026, 11, 23)
DATABASE = "huiliu_bench_publish"
SHARE = {  # rows of each relation per household_registration row
    "household_registration": 1.0,
    "floating_population": 0.2,
    "social_insurance": 0.6,
    "enterprise_registry": 0.1,
    "disability_certificates": 0.03,
    "elderly_subsidy": 0.15,
    "death_records": 0.02,
    "person_ledger": 1.05,  # the ledgers and topic libraries are published like the datasets
    "enterprise_ledger": 0.1,
    "population_profile": 0.02,
    "enterprise_profile": 0.01,
    "collision_warnings": 0.08,  # read by rule as well as by division
}


def tenfold(real: Topology) -> Topology:
    """The same county, towns and departments with ten times the villages (made-up codes)."""
    doc: dict[str, Any] = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    for town in doc["towns"]:
        n = 10 * len(town.get("villages") or ())
        town["villages"] = [{"code": f"{town['code']}{400 + i:03d}", "name": f"合成村{i + 1}"}
                            for i in range(n)]
    first = doc["towns"][0]["villages"][0]["code"]
    for g in doc.get("grants") or ():
        if g["unit"].startswith("village_"):
            g["unit"] = f"village_{first}"
    topo = parse_topology(doc)
    assert len(topo.villages) == 10 * len(real.villages)
    return topo


def plant(url: str, topo: Topology, rows: int) -> float:
    started = time.perf_counter()
    plan = {d: spread(topo, int(rows * share), seed=i) for i, (d, share) in enumerate(SHARE.items())}
    with psycopg.connect(url, autocommit=True) as conn:
        create_standin(conn, plan)
    return time.perf_counter() - started


def probe(url: str, topo: Topology) -> dict[str, float]:
    """Milliseconds of count(*) on one village's and one town's household_registration view."""
    village, town = topo.villages[len(topo.villages) // 2].schema, topo.towns[4].schema
    out = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for label, schema in (("village view count(*)", village), ("town view count(*)", town)):
            q = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, "household_registration"))
            conn.execute(q)
            started = time.perf_counter()
            for _ in range(5):
                conn.execute(q)
            out[label] = (time.perf_counter() - started) / 5 * 1000
    return out


def report(label: str, outcome: Any, wall: float) -> None:
    sw, ch = outcome.switch, outcome.changes
    print(f"  {label}: {wall:6.1f} s wall")
    for step, seconds in outcome.timings.items():
        print(f"      {step:<22} {seconds:7.2f} s")
    print(f"      switch: {sw.seconds * 1000:.0f} ms, {sw.attempts} attempt(s), {sw.statements} statements, "
          f"{sw.locks_held} locks held, unit relations locked: {ch.unit_relations_in_switch}")
    print(f"      unit views created before the switch: {len(ch.prepare_views)}, "
          f"sources switched: {len(ch.replaced_sources) + len(ch.recreated_sources)}")


def bench(name: str, topo: Topology, rows: int, admin: str, base: str) -> None:
    units = len(topo.towns) + len(topo.villages)
    drop_database(admin, DATABASE)
    ensure_database(admin, DATABASE)
    url = with_database(base, DATABASE)
    try:
        total = sum(int(rows * s) for s in SHARE.values())
        print(f"\n{name}: {units} towns+villages ({len(topo.units) + 1} unit schemas), "
              f"{rows:,} household rows, {total:,} rows over 7 datasets × 6 audiences")
        for label, adopt in (("first publish", "move"), ("steady republish", "move"),
                             ("steady republish, adopt=copy", "copy")):
            planted = plant(url, topo, rows)
            print(f"    (stand-in tiers.* rebuilt in {planted:.1f} s — dbt's part, not counted)")
            started = time.perf_counter()
            outcome = publish(url, topo, day=DAY, adopt=adopt)
            report(label, outcome, time.perf_counter() - started)
        for what, ms in probe(url, topo).items():
            print(f"      {what:<22} {ms:7.2f} ms")
    finally:
        drop_database(admin, DATABASE)


def drop_roles(admin: str, topo: Topology, keep: Topology) -> None:
    """The 10× topology's made-up unit roles go; the county's real ones stay."""
    real = {u.schema for u in keep.units} | {"city"}
    made_up = [u.schema for u in topo.units if u.schema not in real]
    kept = 0
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in made_up:
            try:
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
            except psycopg.errors.DependentObjectsStillExist:
                kept += 1  # granted in another database (another run of this benchmark?)
    if kept:
        print(f"kept {kept} made-up roles still granted in another database")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000, help="household_registration rows")
    parser.add_argument("--only", choices=("real", "tenfold"))
    args = parser.parse_args()
    base = database_url()
    admin = with_database(base, "postgres")
    real = load_topology(DEFAULT_PATH)
    big = tenfold(real)
    with psycopg.connect(admin) as conn:
        print("PostgreSQL", conn.execute("SHOW server_version").fetchone()[0], "| max_locks_per_transaction",
              conn.execute("SHOW max_locks_per_transaction").fetchone()[0], "| max_connections",
              conn.execute("SHOW max_connections").fetchone()[0])
    try:
        if args.only in (None, "real"):
            bench("Shengzhou (real topology)", real, args.rows, admin, base)
        if args.only in (None, "tenfold"):
            bench("10× villages (synthetic topology)", big, args.rows, admin, base)
    finally:
        drop_roles(admin, big, real)


if __name__ == "__main__":
    main()
