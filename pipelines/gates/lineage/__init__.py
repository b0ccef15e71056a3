"""The lineage proof over compiled dbt SQL: trace.py follows columns, proof.py judges them
against the policy, compile.py gets the SQL, gate.py binds the proof to a candidate version."""

from pipelines.gates.lineage.compile import Compilation, compiled_models
from pipelines.gates.lineage.gate import finish_lineage, lineage_result
from pipelines.gates.lineage.proof import Leak, dataset_of, flows, prove, tier_models
from pipelines.gates.lineage.trace import APPROVED, APPROVED_FUNCTIONS, protects

__all__ = [
    "APPROVED",
    "APPROVED_FUNCTIONS",
    "Compilation",
    "Leak",
    "compiled_models",
    "dataset_of",
    "finish_lineage",
    "flows",
    "lineage_result",
    "protects",
    "prove",
    "tier_models",
]
