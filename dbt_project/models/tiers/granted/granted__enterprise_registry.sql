{{ config(post_hook="{{ tier_comments('enterprise_registry', 'granted') }}") }}
{{ tier_relation('enterprise_registry', 'granted') }}
