{{ config(post_hook="{{ tier_comments('death_records', 'owner') }}") }}
{{ tier_relation('death_records', 'owner') }}
