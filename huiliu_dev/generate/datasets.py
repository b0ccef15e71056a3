"""From entities to rows: one builder per dataset of the contract.

A snapshot dataset writes the state at D. A delta dataset writes the difference between
the states at D-1 and D (I for a key that appears, U for one whose content changed, D
for one that goes), or the whole state as I rows on first_batch_date. Since each key
changes at most once between two days, folding the deltas in date order always gives
the state, whatever order rows have inside a file.

Builders (province.py, city.py) return columns in the contract's column order; the writer
reorders them. This module names them all, and the planted "ghost" rows of each.
"""

from __future__ import annotations

from huiliu_dev.generate.city import (
    death_ghosts,
    deaths,
    floating,
    floating_ghosts,
    subsidy,
    subsidy_ghosts,
)
from huiliu_dev.generate.province import (
    disability,
    disability_ghosts,
    enterprise_ghosts,
    enterprises,
    household,
    household_ghosts,
    insurance,
    insurance_ghosts,
)
from huiliu_dev.generate.rows import Block, Emitted

__all__ = ["GHOSTS", "Block", "Emitted", "deaths", "disability", "enterprises", "floating", "household",
           "insurance", "subsidy"]

GHOSTS = {
    "household_registration": household_ghosts,
    "disability_certificates": disability_ghosts,
    "elderly_subsidy": subsidy_ghosts,
    "social_insurance": insurance_ghosts,
    "death_records": death_ghosts,
    "enterprise_registry": enterprise_ghosts,
    "floating_population": floating_ghosts,
}
