{{ config(post_hook="{{ tier_comments('disability_certificates', 'village') }}") }}
{{ tier_relation('disability_certificates', 'village') }}
