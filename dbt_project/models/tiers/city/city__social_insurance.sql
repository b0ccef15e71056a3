{{ config(post_hook="{{ tier_comments('social_insurance', 'city') }}") }}
{{ tier_relation('social_insurance', 'city') }}
