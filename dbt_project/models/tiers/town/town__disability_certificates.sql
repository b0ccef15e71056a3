{{ config(post_hook="{{ tier_comments('disability_certificates', 'town') }}") }}
{{ tier_relation('disability_certificates', 'town') }}
