{{ config(post_hook="{{ tier_comments('enterprise_registry', 'village') }}") }}
{{ tier_relation('enterprise_registry', 'village') }}
