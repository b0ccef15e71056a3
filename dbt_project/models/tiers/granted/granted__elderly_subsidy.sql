{{ config(post_hook="{{ tier_comments('elderly_subsidy', 'granted') }}") }}
{{ tier_relation('elderly_subsidy', 'granted') }}
