{{ config(post_hook="{{ tier_comments('elderly_subsidy', 'city') }}") }}
{{ tier_relation('elderly_subsidy', 'city') }}
