{{ config(post_hook="{{ tier_comments('household_registration', 'town') }}") }}
{{ tier_relation('household_registration', 'town') }}
