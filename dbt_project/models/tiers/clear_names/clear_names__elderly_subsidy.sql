{{ config(post_hook="{{ tier_comments('elderly_subsidy', 'clear_names') }}") }}
{{ tier_relation('elderly_subsidy', 'clear_names') }}
