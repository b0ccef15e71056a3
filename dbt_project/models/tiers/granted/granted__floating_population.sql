{{ config(post_hook="{{ tier_comments('floating_population', 'granted') }}") }}
{{ tier_relation('floating_population', 'granted') }}
