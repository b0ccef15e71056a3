{{ config(post_hook="{{ tier_comments('death_records', 'town') }}") }}
{{ tier_relation('death_records', 'town') }}
