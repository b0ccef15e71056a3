{{ config(post_hook="{{ tier_comments('social_insurance', 'village') }}") }}
{{ tier_relation('social_insurance', 'village') }}
