{{ config(post_hook="{{ tier_comments('floating_population', 'city') }}") }}
{{ tier_relation('floating_population', 'city') }}
