{#- 高龄津贴发放 elderly_subsidy: city, snapshot, key id_number, period.
    One row per raw record of its loaded and superseded files: normalised, typed, and judged
    by the contract's row rules (kept_aside_reason / kept_aside_column NULL = loaded). -#}
{{ staged_rows('elderly_subsidy') }}
