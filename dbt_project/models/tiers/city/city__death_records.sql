{{ config(post_hook="{{ tier_comments('death_records', 'city') }}") }}
{{ tier_relation('death_records', 'city') }}
