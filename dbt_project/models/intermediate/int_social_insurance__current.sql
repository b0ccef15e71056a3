{#- 社保参保 social_insurance: its current state (see macros/current_state.sql). -#}
{{ current_state('social_insurance') }}
