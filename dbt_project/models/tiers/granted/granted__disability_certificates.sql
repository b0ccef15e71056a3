{{ config(post_hook="{{ tier_comments('disability_certificates', 'granted') }}") }}
{{ tier_relation('disability_certificates', 'granted') }}
