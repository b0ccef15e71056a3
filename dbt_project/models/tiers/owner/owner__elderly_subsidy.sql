{{ config(post_hook="{{ tier_comments('elderly_subsidy', 'owner') }}") }}
{{ tier_relation('elderly_subsidy', 'owner') }}
