{{ config(post_hook="{{ tier_comments('social_insurance', 'granted') }}") }}
{{ tier_relation('social_insurance', 'granted') }}
