"""The four tier assets (city, department, town, village) and the dbt build that makes them.

The tier models (`<audience>__<relation>`) that the day's layout reads are built by one `dbt build`
inside the publish step, under its advisory lock; Dagster shows them as one asset per tier, downstream of
whatever dbt's models/tiers read (taken from the manifest, so the graph follows the SQL).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import dagster as dg

from pipelines.contract import DATASETS
from pipelines.naming import TIERS

TIERS_PATH = "models/tiers/"
TIERS_SELECTION = "path:models/tiers"
DBT_TIERS_ARGS = ["build", "--select", TIERS_SELECTION, "--exclude-resource-type", "unit_test"]


def tier_build_args(sources: Iterable[str]) -> list[str]:
    """`dbt build` of the tier models some unit reads, and no other: an audience's copy that no
    unit's view reads today (a clear_names ledger, say) would cost a table and its tests each run."""
    names = sorted(set(sources))
    if not names:
        raise ValueError("no tier relation to build: the layout reads none")
    return ["build", "--select", " ".join(names), "--exclude-resource-type", "unit_test"]  # one union
TIER_KEYS = {tier: dg.AssetKey(["tiers", tier]) for tier in TIERS}
_CURRENT_STATE = [dg.AssetKey(["intermediate", f"int_{d}__current"]) for d in DATASETS]

_TIER_TEXT = {
    "city": "city (市本级): every county row of the seven datasets under the city policy.",
    "department": "dept_<code> (部门): owned datasets in full, granted ones as the grant allows.",
    "town": "town_<code9> (镇街): the rows under each town, under the town policy.",
    "village": "village_<code12> (村社区): each village's own rows, under the village policy.",
}


def tier_inputs() -> list[dg.AssetKey]:
    """What dbt's models/tiers read (from the manifest), so the graph shows … → tiers → publish.

    Falls back to the current-state models when the manifest has no tiers folder yet.
    """
    try:
        from pipelines.tiers.project import HuiliuTranslator, prepare_manifest

        manifest = json.loads(prepare_manifest().read_text())
    except Exception:  # a broken dbt project must not hide the publish asset
        return _CURRENT_STATE
    nodes = {**manifest.get("nodes", {}), **manifest.get("sources", {})}
    tiers = {uid for uid, n in nodes.items()
             if n.get("resource_type") == "model" and n.get("original_file_path", "").startswith(TIERS_PATH)}
    parents = {p for uid in tiers for p in manifest.get("parent_map", {}).get(uid, []) if p not in tiers}
    translator = HuiliuTranslator()
    keys = {translator.get_asset_key(nodes[p]) for p in parents
            if p in nodes and nodes[p].get("resource_type") in ("model", "seed", "snapshot", "source")}
    return sorted(keys, key=lambda k: k.to_user_string()) or _CURRENT_STATE


def tier_specs() -> list[dg.AssetSpec]:
    inputs = tier_inputs()
    return [dg.AssetSpec(TIER_KEYS[tier], group_name="tiers", deps=inputs, kinds={"postgres", "dbt"},
                         owners=["team:data-engineering"], description=_TIER_TEXT[tier]) for tier in TIERS]
