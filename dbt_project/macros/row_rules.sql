{#- Building blocks of the staging models, generated from the contract (macros/contract.sql).
    A staging model reads raw.<dataset> once and walks it through fenced steps:
      trimmed    -> normalize_text on every column (upper-case for identifiers)
      normalised -> identity numbers to 18 characters, mobiles to 11 digits
      checked    -> one <column>__ok flag per judged column (TRUE when empty: emptiness is
                    missing_required's business, for required columns only)
      judged     -> typed values (cast only when valid) and the first broken rule
    then, for snapshots, duplicate_key over the rows that passed every other rule. -#}

{#- Row rules after field_count and missing_required, in contract order, with the column
    kinds each one judges. -#}
{% macro huiliu_kind_rules() -%}
    {{ return([
        ('bad_op', ['op']),
        ('bad_id_number', ['id_number']),
        ('bad_uscc', ['uscc', 'uscc_optional']),
        ('bad_date', ['date', 'timestamp', 'period']),
        ('bad_number', ['amount']),
        ('unknown_division', ['division']),
        ('bad_code', ['code']),
    ]) }}
{%- endmacro %}

{#- The files whose rows staging judges: loaded and superseded ones of the dataset (a rejected
    file loads nothing; its rows, if any, are ignored). -#}
{% macro staging_files(ds) -%}
    select file_id, source, batch_date, delivery, status as file_status
    from {{ source('governance', 'batch_files') }}
    where dataset = '{{ ds.name }}'
      and status in ('loaded', 'superseded')
{%- endmacro %}

{#- The division codes a row may carry: the county's village/community codes (12 digits) and
    each town's 9-digit code followed by 000. -#}
{% macro valid_division_codes() -%}
    select code from {{ source('governance', 'divisions') }} where level = 'village'
    union all
    select code || '000' from {{ source('governance', 'divisions') }} where level = 'town'
{%- endmacro %}

{% macro staging_file_columns(alias=none) -%}
    {%- set p = (alias ~ '.') if alias else '' -%}
    {{ p }}file_id, {{ p }}source, {{ p }}batch_date, {{ p }}delivery, {{ p }}file_status
{%- endmacro %}

{#- Step 1: trim, half-width digits, empty -> NULL; USCCs and certificate numbers (an identity
    number + 2 digits) also upper-cased (identity numbers are upper-cased by normalize_id). -#}
{% macro trimmed_columns(ds, alias) -%}
    {%- for c in ds.columns %}
        {% if c.kind in ('uscc', 'uscc_optional') or c.name == 'certificate_no' -%}
            {{ normalize_upper(alias ~ '.' ~ c.name) }}
        {%- else -%}
            {{ normalize_text(alias ~ '.' ~ c.name) }}
        {%- endif %} as {{ c.name }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- Fixed-shape kinds, judged on their UTF-8 bytes (see macros/validate.sql). -#}
{% macro huiliu_byte_kinds() -%}
    {{ return(['id_number', 'date', 'timestamp', 'period']) }}
{%- endmacro %}

{#- Step 2: kind-specific normalisation of the trimmed values, and for fixed-shape kinds the
    value's UTF-8 bytes as <column>__b (computed once here, read many times by the checks). -#}
{% macro normalised_columns(ds) -%}
    {%- for c in ds.columns %}
        {%- if c.kind == 'id_number' -%}
            {%- set expr = normalize_id(c.name) -%}
        {%- elif c.kind == 'phone' -%}
            {%- set expr = normalize_phone(c.name) -%}
        {%- else -%}
            {%- set expr = c.name -%}
        {%- endif %}
        {{ expr }} as {{ c.name }},
        {%- if c.kind in huiliu_byte_kinds() %}
        convert_to({{ expr }}, 'UTF8') as {{ c.name }}__b,
        {%- endif %}
    {%- endfor %}
        field_count
{%- endmacro %}

{#- The validity test of one column by kind (NULL for kinds that are never judged). -#}
{% macro column_check(c, divisions_alias) -%}
    {%- if c.kind == 'op' or c.kind == 'code' -%}
        {{ c.name }} in ({% for v in c.codes %}'{{ v }}'{{ ', ' if not loop.last }}{% endfor %})
    {%- elif c.kind == 'id_number' -%}
        {{ is_valid_id(c.name, b=c.name ~ '__b') }}
    {%- elif c.kind in ('uscc', 'uscc_optional') -%}
        {{ is_valid_uscc(c.name) }}
    {%- elif c.kind == 'date' -%}
        {{ is_valid_date(c.name, b=c.name ~ '__b') }}
    {%- elif c.kind == 'timestamp' -%}
        {{ is_valid_timestamp(c.name, b=c.name ~ '__b') }}
    {%- elif c.kind == 'period' -%}
        {{ is_valid_period(c.name, b=c.name ~ '__b') }}
    {%- elif c.kind == 'amount' -%}
        {{ is_valid_amount(c.name) }}
    {%- elif c.kind == 'division' -%}
        {{ divisions_alias }}.code is not null
    {%- endif -%}
{%- endmacro %}

{% macro judged_columns(ds) -%}
    {%- set judged = [] -%}
    {%- for rule, kinds in huiliu_kind_rules() -%}
        {%- for c in ds.columns if c.kind in kinds -%}{%- do judged.append(c) -%}{%- endfor -%}
    {%- endfor -%}
    {{ return(judged) }}
{%- endmacro %}

{#- Step 3: <column>__ok for every judged column: empty, or valid. -#}
{% macro validity_flags(ds, divisions_alias='valid_divisions') -%}
    {%- for c in judged_columns(ds) %}
        ({{ c.name }} is null or {{ column_check(c, divisions_alias) }}) as {{ c.name }}__ok{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- Step 4: typed values — dates, timestamps, amounts cast only when valid, else NULL. -#}
{% macro typed_columns(ds) -%}
    {%- for c in ds.columns %}
        {% if c.kind == 'date' -%}
            case when {{ c.name }}__ok then {{ c.name }}::date end
        {%- elif c.kind == 'timestamp' -%}
            case when {{ c.name }}__ok then {{ c.name }}::timestamptz end
        {%- elif c.kind == 'amount' -%}
            case when {{ c.name }}__ok then {{ c.name }}::numeric end
        {%- else -%}
            {{ c.name }}
        {%- endif %} as {{ c.name }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- The first rule a row breaks, in contract order, and within a rule the first failing column
    in the dataset's column order. part='reason' gives the code, part='column' the column
    (NULL for field_count). NULL when every rule before duplicate_key holds. -#}
{% macro first_broken_rule(ds, part) -%}
    {%- set arms = [('field_count <> ' ~ ds.n_columns, 'field_count', none)] -%}
    {%- for name in ds.required -%}
        {%- do arms.append((name ~ ' is null', 'missing_required', name)) -%}
    {%- endfor -%}
    {%- for rule, kinds in huiliu_kind_rules() -%}
        {%- for c in ds.columns if c.kind in kinds -%}
            {%- do arms.append(('not ' ~ c.name ~ '__ok', rule, c.name)) -%}
        {%- endfor -%}
    {%- endfor -%}
    case
    {%- for condition, reason, column in arms %}
        when {{ condition }} then {{ ("'" ~ (reason if part == 'reason' else column) ~ "'") if (part == 'reason' or column) else 'null' }}
    {%- endfor %}
    end
{%- endmacro %}

{#- duplicate_key (snapshots): among the rows of one file that broke no other rule, per
    normalised key, the row with the latest updated_at is kept and the others are kept aside;
    when the latest is tied, all tied rows are kept aside. One sort: rank() and the default
    frame's count(*) (= number of peers at rank 1 for the top rows). Keys compared bytewise. -#}
{% macro duplicate_key_window(ds) -%}
    partition by rule_reason is null, file_id
        {%- for k in ds.key %}, {{ k }} collate "C"{% endfor %}
    order by updated_at desc nulls last
{%- endmacro %}

{% macro duplicate_key_reason(ds) -%}
    coalesce(rule_reason, case when latest_rank > 1 or latest_peers > 1 then 'duplicate_key' end)
{%- endmacro %}

{% macro duplicate_key_column(ds) -%}
    case
        when rule_reason is not null then rule_column
        when latest_rank > 1 or latest_peers > 1 then '{{ ds.key | join(",") }}'
    end
{%- endmacro %}

{#- ---- current state (models/intermediate) -------------------------------------------- -#}

{#- The contract's columns without op (the current state carries values, not events). -#}
{% macro current_state_columns(ds, alias=none) -%}
    {%- set p = (alias ~ '.') if alias else '' -%}
    {%- for c in ds.column_names if c != 'op' -%}{{ p }}{{ c }}{{ ', ' if not loop.last }}{%- endfor -%}
{%- endmacro %}

{#- The key columns, comma-joined; collate=true compares them bytewise (cheaper sorts, same
    equality). -#}
{% macro key_columns(ds, collate=false) -%}
    {%- for k in ds.key -%}{{ k }}{{ ' collate "C"' if collate }}{{ ', ' if not loop.last }}{%- endfor -%}
{%- endmacro %}

{#- Delta fold order (batch_date, updated_at, line_number), newest first: the first row per key
    is its last event. An empty updated_at counts as the earliest of its batch; file_id only
    breaks a tie between two loaded files of one batch date. -#}
{% macro fold_order_desc() -%}
    batch_date desc, updated_at desc nulls last, file_id desc, line_number desc
{%- endmacro %}

{#- The loaded snapshot file with the latest batch_date (the newest file_id if two are loaded). -#}
{% macro latest_loaded_snapshot(ds) -%}
    select file_id
    from {{ source('governance', 'batch_files') }}
    where dataset = '{{ ds.name }}'
      and status = 'loaded'
    order by batch_date desc, file_id desc
    limit 1
{%- endmacro %}

{#- Opens a staging step (a CTE body) so that PostgreSQL keeps it as a subquery of its own: it
    never flattens a subquery that has a WITH list (this one is empty and unused, so it costs
    nothing). Each expression of the step is then evaluated once per row and the next step
    reads it as a plain column; flattened, a trimmed identity number would be re-computed in
    each of the ~40 places that judge it (PostgreSQL has no common-subexpression
    elimination). Unlike OFFSET 0 such a subquery can still run in parallel workers, and
    unlike a set-returning function in the select list it does not evaluate its row twice. -#}
{% macro evaluation_fence() -%}
    with evaluation_fence as (select)
{%- endmacro %}
