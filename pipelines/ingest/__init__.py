"""Ingestion: what the province and the city deliver, checked and COPYed into raw.<dataset>.

landing scan (deliveries) → manifest → loader → raw schema; the Dagster assets, the landing
sensor and the nightly schedule that start one run per delivery. Nothing here knows about
tiers: ingestion ends at raw.* and governance.batch_files.
"""
