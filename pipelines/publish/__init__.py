"""Split the governed warehouse into unit schemas and publish every tier atomically.

Modules, in the order a publish uses them: naming (identifiers), layout (topology → unit
views), lock (the advisory lock), build (a version out of sight), counts and gates (the
audit), roles, catalog and changes (what differs from what is published), switch (the one
transaction), run (`publish()`), assets (the Dagster multi-asset), standin (synthetic
tiers.* for tests and the benchmark).
"""

from pipelines.publish.gates import GateFailed, GateResult, run_gates
from pipelines.publish.layout import Layout, plan_layout
from pipelines.publish.lock import PublishLock, PublishLockBusy
from pipelines.publish.run import PublishOutcome, publish

__all__ = [
    "GateFailed",
    "GateResult",
    "Layout",
    "PublishLock",
    "PublishLockBusy",
    "PublishOutcome",
    "plan_layout",
    "publish",
    "run_gates",
]
