{{ config(post_hook="{{ tier_comments('household_registration', 'village') }}") }}
{{ tier_relation('household_registration', 'village') }}
