{{ topic_tier_model() }}
