{{ config(post_hook="{{ tier_comments('enterprise_registry', 'city') }}") }}
{{ tier_relation('enterprise_registry', 'city') }}
