{{ config(post_hook="{{ tier_comments('household_registration', 'clear_names') }}") }}
{{ tier_relation('household_registration', 'clear_names') }}
