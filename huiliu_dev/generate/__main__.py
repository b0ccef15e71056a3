"""`python -m huiliu_dev.generate …` (the same as `huiliu generate …`)."""

import sys

from huiliu_dev.generate.cli import main

sys.exit(main())
