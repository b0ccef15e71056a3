{{ config(post_hook="{{ tier_comments('disability_certificates', 'clear_names') }}") }}
{{ tier_relation('disability_certificates', 'clear_names') }}
