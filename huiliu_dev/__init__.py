"""What developers, demos, tests and benchmarks use, never a county's deployment.

generate/ writes realistic synthetic batches (`huiliu generate`); standin.py plants stand-in
tiers.* tables for the publish tests and benchmark. It may import pipelines; inside pipelines
only cli.py imports it (lazily, for `huiliu generate`).
"""
