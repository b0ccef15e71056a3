{{ config(post_hook="{{ tier_comments('enterprise_registry', 'clear_names') }}") }}
{{ tier_relation('enterprise_registry', 'clear_names') }}
