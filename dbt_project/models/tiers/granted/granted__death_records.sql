{{ config(post_hook="{{ tier_comments('death_records', 'granted') }}") }}
{{ tier_relation('death_records', 'granted') }}
