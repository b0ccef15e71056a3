"""基层一张表: a unit's forms (`huiliu report`), read through that unit's own role.

templates.py reads reports/*.yaml; the unit's connection comes from pipelines.access.sessions (a
login that is a member of exactly one unit role); plan.py checks a request against the columns that role sees
and composes the one SELECT; writers.py writes xlsx and csv; exports.py records every export in
governance.report_exports; report.py ties them together for the command line and for tests.
"""
