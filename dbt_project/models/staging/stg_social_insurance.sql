{#- 社保参保 social_insurance: province, delta, key id_number, insurance_type.
    One row per raw record of its loaded and superseded files: normalised, typed, and judged
    by the contract's row rules (kept_aside_reason / kept_aside_column NULL = loaded). -#}
{{ staged_rows('social_insurance') }}
