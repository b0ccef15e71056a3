{{ config(post_hook="{{ tier_comments('household_registration', 'owner') }}") }}
{{ tier_relation('household_registration', 'owner') }}
