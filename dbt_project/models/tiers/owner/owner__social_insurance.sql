{{ config(post_hook="{{ tier_comments('social_insurance', 'owner') }}") }}
{{ tier_relation('social_insurance', 'owner') }}
