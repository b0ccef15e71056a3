{#- 流动人口 floating_population: its current state (see macros/current_state.sql). -#}
{{ current_state('floating_population') }}
