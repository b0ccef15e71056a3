{{ config(post_hook="{{ tier_comments('household_registration', 'granted') }}") }}
{{ tier_relation('household_registration', 'granted') }}
