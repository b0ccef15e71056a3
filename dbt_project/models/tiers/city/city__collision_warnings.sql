{{ warnings_tier_model() }}
