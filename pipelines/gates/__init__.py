"""Quality gates a built, unpublished version must pass before the switch.

Each gate is `gate(conn, candidate) -> list[GateResult]` (base.py); the candidate is read
through a small protocol, so nothing here imports publish:

- `reconciliation_gate` (reconcile.py): the split into units keeps every row, no more.
- `files_gate` (files.py): per loaded file, received = loaded + kept aside, and the counts
  agree with staging as it is now.
- `expectation_gate` (expectations/): the Great Expectations suites under expectations/,
  run inside PostgreSQL on every relation of the version.
- the lineage proof (lineage/): a static proof over the compiled dbt SQL that no sensitive
  source column reaches a tier except through a function approved for its class.
- `reidentification_gate` (reidentify/): an attack on every audience's relations, counting
  the masked identifiers it can put back together (confirmed against the protected layer).

`quality_gate` (quality.py) runs files, expectations, the attack and lineage with the slow parts
overlapped, and `ALL_GATES` is what a publish runs; `report.write_report` renders one run's
results as a static HTML page; checks.py turns them into blocking Dagster asset checks.
"""

from pipelines.gates.base import Candidate, Gate, GateFailed, GateResult
from pipelines.gates.quality import ALL_GATES, quality_gate, warm_up_in_background
from pipelines.gates.reconcile import reconciliation_gate
from pipelines.gates.report import failures, failures_table, overview_table, write_report

__all__ = [
    "ALL_GATES",
    "Candidate",
    "Gate",
    "GateFailed",
    "GateResult",
    "failures",
    "failures_table",
    "overview_table",
    "quality_gate",
    "reconciliation_gate",
    "warm_up_in_background",
    "write_report",
]
