"""Split the governed warehouse into unit schemas and publish every tier atomically.

Modules, in the order a publish uses them: layout (topology → unit views), lock (the
advisory lock), build (a version out of sight) and counts (rows per division, taken once),
then the gates (pipelines/gates, called with the built version), roles, catalog and changes
(what differs from what is published), switch (the one transaction), run (`publish()`),
report (tables for the UI), assets (the Dagster multi-asset).
"""

from pipelines.lock import PublishLock, PublishLockBusy
from pipelines.publish.layout import Layout, plan_layout
from pipelines.publish.run import PublishOutcome, publish

__all__ = [
    "Layout",
    "PublishLock",
    "PublishLockBusy",
    "PublishOutcome",
    "plan_layout",
    "publish",
]
