{#- 户籍人口 household_registration: its current state (see macros/current_state.sql). -#}
{{ current_state('household_registration') }}
