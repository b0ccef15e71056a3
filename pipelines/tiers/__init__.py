"""The dbt project's Dagster side: DbtProject and translator, the dbt assets, the one dbt runner.

dbt does every set-based step in the warehouse: staging → intermediate (current state) →
governance (catalog, detection, accounting) → protected (tokens) → tiers/<audience>. The
main build is one `@dbt_assets` invocation; the tier models are built inside the publish
step, under its lock (specs.py describes them as the four tier assets).
"""
