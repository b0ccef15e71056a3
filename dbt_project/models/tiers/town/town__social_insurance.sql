{{ config(post_hook="{{ tier_comments('social_insurance', 'town') }}") }}
{{ tier_relation('social_insurance', 'town') }}
