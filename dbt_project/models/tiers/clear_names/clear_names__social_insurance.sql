{{ config(post_hook="{{ tier_comments('social_insurance', 'clear_names') }}") }}
{{ tier_relation('social_insurance', 'clear_names') }}
