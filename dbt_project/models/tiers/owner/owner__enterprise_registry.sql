{{ config(post_hook="{{ tier_comments('enterprise_registry', 'owner') }}") }}
{{ tier_relation('enterprise_registry', 'owner') }}
