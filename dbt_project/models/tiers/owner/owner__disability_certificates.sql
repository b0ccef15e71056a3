{{ config(post_hook="{{ tier_comments('disability_certificates', 'owner') }}") }}
{{ tier_relation('disability_certificates', 'owner') }}
