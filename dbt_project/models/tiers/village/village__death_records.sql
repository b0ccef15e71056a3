{{ config(post_hook="{{ tier_comments('death_records', 'village') }}") }}
{{ tier_relation('death_records', 'village') }}
