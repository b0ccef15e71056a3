{{ config(post_hook="{{ tier_comments('floating_population', 'owner') }}") }}
{{ tier_relation('floating_population', 'owner') }}
