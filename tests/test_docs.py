"""`make docs`: dbt's site documents every model with its lineage and each column's label, class, grade
and action — the tier models too, from the published views that stand for them — and the Dagster
asset pages name the dbt node they come from."""

from __future__ import annotations

import json

from pipelines.tiers.docs import add_published, documented_columns, generate


def test_the_docs_site_documents_models_lineage_and_policy_per_column(published, tmp_path) -> None:
    index = generate(published.url, tmp_path)
    assert index.exists() and index.stat().st_size > 100_000
    with published.connect() as c:
        views = {r[0] for r in c.execute("SELECT viewname FROM pg_views WHERE schemaname = 'published'")}
    assert add_published(tmp_path, published.url) == len(views) > 30
    columns = documented_columns(tmp_path, "village__person_ledger")
    assert columns["name"] == "姓名 | person_name | L3 | mask"
    assert columns["id_number"].endswith("| identity_number | L4 | token")
    assert all(comment.count(" | ") == 3 for comment in columns.values()), columns
    assert documented_columns(tmp_path, "city__household_registration")["name"].endswith("| L3 | keep")
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert "model.huiliu.prot_person_ledger" in manifest["parent_map"]["model.huiliu.village__person_ledger"]
    assert "source.huiliu.raw.household_registration" in manifest["parent_map"][
        "model.huiliu.stg_household_registration"]


def test_asset_descriptions_name_the_dbt_model() -> None:
    import dagster as dg

    from pipelines.definitions import defs

    spec = defs.resolve_assets_def(dg.AssetKey(["protected", "prot_person_ledger"])).specs_by_key[
        dg.AssetKey(["protected", "prot_person_ledger"])]
    assert spec.description.startswith("dbt model `prot_person_ledger` (models/ledgers/prot_person_ledger.sql)")
