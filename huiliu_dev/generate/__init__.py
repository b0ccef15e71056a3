"""Synthetic province and city batches for one date, with the summary they imply.

`generate(landing, batch_date, people, seed, faulty_files)` writes
<landing>/province/<D>/ and <landing>/city/<D>/ (CSV files, manifest.json last) and
<landing>/summary/<D>.json; `add_arguments` / `run_from_args` back `huiliu generate`.
The same seed over successive dates is one consistent history.
"""

from huiliu_dev.generate.batch import ASSUMES, generate
from huiliu_dev.generate.cli import add_arguments, run_from_args

__all__ = ["ASSUMES", "add_arguments", "generate", "run_from_args"]
