{{ tier_model() }}
