{{ config(post_hook="{{ tier_comments('floating_population', 'town') }}") }}
{{ tier_relation('floating_population', 'town') }}
