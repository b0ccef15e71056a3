{#- 残疾人证 disability_certificates: province, snapshot, key certificate_no.
    One row per raw record of its loaded and superseded files: normalised, typed, and judged
    by the contract's row rules (kept_aside_reason / kept_aside_column NULL = loaded). -#}
{{ staged_rows('disability_certificates') }}
