{#- 死亡登记 death_records: city, delta, key id_number.
    One row per raw record of its loaded and superseded files: normalised, typed, and judged
    by the contract's row rules (kept_aside_reason / kept_aside_column NULL = loaded). -#}
{{ staged_rows('death_records') }}
