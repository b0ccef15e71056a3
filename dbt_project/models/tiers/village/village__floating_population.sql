{{ config(post_hook="{{ tier_comments('floating_population', 'village') }}") }}
{{ tier_relation('floating_population', 'village') }}
