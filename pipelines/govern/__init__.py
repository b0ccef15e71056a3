"""Govern: the token key, the column policy the gates judge by, and the per-file accounting.

dbt does the classifying, grading and desensitizing (models/governance, models/protected);
this package holds what Python needs of governance: the key (bind parameters only), the
policy as read from governance.column_catalog, and batch_files' loaded / kept-aside counts.
"""
