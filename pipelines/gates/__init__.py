"""Quality gates a built, unpublished version must pass before the switch.

Each gate has the publish package's signature `gate(conn, version) -> list[GateResult]`:

- `files_gate` (files.py): per loaded file, received = loaded + kept aside, and the counts
  agree with staging as it is now.
- `expectation_gate` (expectations.py): the Great Expectations suites under expectations/,
  run inside PostgreSQL on every relation of the version.
- `lineage_gate` (lineage.py): a static proof over the compiled dbt SQL that no sensitive
  source column reaches a tier unmasked where its policy is not keep.

`quality_gate` runs all three with the slow parts overlapped (the usual entry point);
`report.write_report` renders one run's results as a static HTML page. The reconciliation of
row counts lives in pipelines/publish/gates.py (`run_gates`) and is not repeated here.
"""

from pipelines.gates.expectations import check_relations, expectation_gate
from pipelines.gates.files import files_gate
from pipelines.gates.lineage import APPROVED_FUNCTIONS, Leak, lineage_gate, lineage_gate_from, prove
from pipelines.gates.policy import Policy
from pipelines.gates.quality import quality_gate, warm_up_in_background
from pipelines.gates.report import (
    failures,
    failures_markdown,
    overview_markdown,
    render_report,
    write_report,
)

# The same three gates one by one (quality_gate runs them with the dbt compile overlapped).
QUALITY_GATES = (files_gate, lineage_gate, expectation_gate)

__all__ = [
    "APPROVED_FUNCTIONS",
    "QUALITY_GATES",
    "Leak",
    "Policy",
    "check_relations",
    "expectation_gate",
    "failures",
    "failures_markdown",
    "files_gate",
    "lineage_gate",
    "lineage_gate_from",
    "overview_markdown",
    "prove",
    "quality_gate",
    "render_report",
    "warm_up_in_background",
    "write_report",
]
