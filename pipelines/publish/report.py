"""The tier assets' metadata: rows published per dataset as numbers the UI plots across runs, tables of
what each tier and unit now shows, and where the publish spent its time."""

from __future__ import annotations

import dagster as dg

from pipelines.derived import RELATIONS
from pipelines.publish.counts import VersionCounts
from pipelines.publish.layout import Layout
from pipelines.tables import table


def published_rows(layout: Layout, counts: VersionCounts, tier: str) -> dict[str, int]:
    """`rows published · <dataset>`: the rows over the tier's units, one number per dataset it holds."""
    out: dict[str, int] = {}
    for u in layout.of_tier(tier):
        for v in u.views:
            key = f"rows published · {v.dataset}"
            out[key] = out.get(key, 0) + counts.view_rows(v)
    return dict(sorted(out.items()))


def tier_datasets(layout: Layout, counts: VersionCounts, tier: str) -> dg.TableMetadataValue:
    """Per dataset: units that hold it, rows over them, units with no row."""
    rows = []
    for d in RELATIONS:
        views = [v for u in layout.of_tier(tier) for v in u.views if v.dataset == d]
        if not views:
            continue
        n = [counts.view_rows(v) for v in views]
        audiences = sorted({v.audience for v in views})
        rows.append((d, ", ".join(audiences), len(views), sum(n), sum(1 for x in n if x == 0)))
    return table(["dataset", "audience", "units", "rows (sum over units)", "units without rows"], rows)


def per_unit(layout: Layout, counts: VersionCounts, tier: str) -> dg.TableMetadataValue:
    """One row per unit, one column per dataset (blank where the unit does not see it)."""
    rows = []
    for u in layout.of_tier(tier):
        seen = {v.dataset: counts.view_rows(v) for v in u.views}
        rows.append((u.schema, u.name, *(seen.get(d) for d in RELATIONS)))
    return table(["schema", "name", *RELATIONS], rows)


def timings_table(timings: dict[str, float]) -> dg.TableMetadataValue:
    return table(["step", "seconds"], [(k, f"{v:.2f}") for k, v in timings.items()])
