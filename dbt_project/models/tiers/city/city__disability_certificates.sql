{{ config(post_hook="{{ tier_comments('disability_certificates', 'city') }}") }}
{{ tier_relation('disability_certificates', 'city') }}
