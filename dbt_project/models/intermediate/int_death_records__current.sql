{#- 死亡登记 death_records: its current state (see macros/current_state.sql). -#}
{{ current_state('death_records') }}
