"""The re-identification gate: what an audience can put back together of a masked value.

attack.py counts the candidates a combination of visible facts leaves; gate.py collects
those facts in the database, one pass per audience, and confirms against the protected layer.
"""

from pipelines.gates.reidentify.attack import RECOVERED_BELOW, Knowledge, digit_candidates, id_candidates
from pipelines.gates.reidentify.gate import reidentification_gate

__all__ = ["RECOVERED_BELOW", "Knowledge", "digit_candidates", "id_candidates", "reidentification_gate"]
