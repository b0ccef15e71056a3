{{ ledger_tier_model() }}
