"""`python -m pipelines.generate …` (the same as `huiliu generate …`)."""

import sys

from pipelines.generate.cli import main

sys.exit(main())
