{#- 企业登记 enterprise_registry: its current state (see macros/current_state.sql). -#}
{{ current_state('enterprise_registry') }}
