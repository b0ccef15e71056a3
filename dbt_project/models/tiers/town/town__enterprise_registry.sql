{{ config(post_hook="{{ tier_comments('enterprise_registry', 'town') }}") }}
{{ tier_relation('enterprise_registry', 'town') }}
