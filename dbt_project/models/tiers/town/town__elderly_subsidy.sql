{{ config(post_hook="{{ tier_comments('elderly_subsidy', 'town') }}") }}
{{ tier_relation('elderly_subsidy', 'town') }}
