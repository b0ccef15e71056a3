"""Helpers shared by the tests: databases, dbt runs, batches, oracles, the UI driver."""
