{{ config(post_hook="{{ tier_comments('death_records', 'clear_names') }}") }}
{{ tier_relation('death_records', 'clear_names') }}
