{#- 高龄津贴发放 elderly_subsidy: its current state (see macros/current_state.sql). -#}
{{ current_state('elderly_subsidy') }}
