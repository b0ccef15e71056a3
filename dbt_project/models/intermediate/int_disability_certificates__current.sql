{#- 残疾人证 disability_certificates: its current state (see macros/current_state.sql). -#}
{{ current_state('disability_certificates') }}
