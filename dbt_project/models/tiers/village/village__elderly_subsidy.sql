{{ config(post_hook="{{ tier_comments('elderly_subsidy', 'village') }}") }}
{{ tier_relation('elderly_subsidy', 'village') }}
