{{ config(post_hook="{{ tier_comments('household_registration', 'city') }}") }}
{{ tier_relation('household_registration', 'city') }}
