"""Govern: classify, grade and desensitize (dbt does the work; this holds the key)."""
