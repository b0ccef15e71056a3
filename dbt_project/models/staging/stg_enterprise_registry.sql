{#- 企业登记 enterprise_registry: province, snapshot, key uscc.
    One row per raw record of its loaded and superseded files: normalised, typed, and judged
    by the contract's row rules (kept_aside_reason / kept_aside_column NULL = loaded). -#}
{{ staged_rows('enterprise_registry') }}
