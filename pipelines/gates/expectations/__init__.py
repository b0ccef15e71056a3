"""The Great Expectations suites of expectations/ as a publish gate, run inside PostgreSQL.

suites.py reads the JSON and expands it per relation (columns by policy, parameters put in);
gx.py validates with GX on several connections at once; probes.py describes a failure with
counts and masked shapes; gate.py is the gate itself.
"""

from pipelines.gates.expectations.gate import check_relations, expectation_gate
from pipelines.gates.expectations.gx import gate_workers, validate_relations, warm_up
from pipelines.gates.expectations.suites import (
    EXPECTATIONS_DIR,
    ParameterError,
    Parameters,
    Relation,
    Suite,
    expand,
    load_suites,
    relations_of,
    resolve_parameters,
)

__all__ = [
    "EXPECTATIONS_DIR",
    "ParameterError",
    "Parameters",
    "Relation",
    "Suite",
    "check_relations",
    "expand",
    "expectation_gate",
    "gate_workers",
    "load_suites",
    "relations_of",
    "resolve_parameters",
    "validate_relations",
    "warm_up",
]
