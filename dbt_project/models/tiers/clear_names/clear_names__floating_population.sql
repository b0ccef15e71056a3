{{ config(post_hook="{{ tier_comments('floating_population', 'clear_names') }}") }}
{{ tier_relation('floating_population', 'clear_names') }}
