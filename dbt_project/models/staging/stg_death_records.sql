{#- 死亡登记 death_records: city, delta, key id_number.
    One row per raw record of its loaded and superseded files: normalised, typed, and judged
    by the contract's row rules (kept_aside_reason / kept_aside_column NULL = loaded).
    Columns, kinds and codes come from macros/contract.sql; the steps from macros/row_rules.sql. -#}
{%- set ds = huiliu_dataset('death_records') %}

with files as (
    {{ staging_files(ds) }}
),

valid_divisions as (
    {{ valid_division_codes() }}
),

trimmed as (
    {{ evaluation_fence() }}
    select
        {{ staging_file_columns('files') }},
        r.line_number,
        r.field_count,
        {{- trimmed_columns(ds, 'r') }}
    from {{ source('raw', 'death_records') }} as r
    join files on files.file_id = r.file_id
),

normalised as (
    {{ evaluation_fence() }}
    select
        {{ staging_file_columns() }}, line_number,
        {{- normalised_columns(ds) }}
    from trimmed
),

checked as (
    {{ evaluation_fence() }}
    select
        normalised.*,
        {{- validity_flags(ds) }}
    from normalised
    left join valid_divisions on valid_divisions.code = normalised.division_code
),

judged as (
    select
        {{ staging_file_columns() }}, line_number,
        {{- typed_columns(ds) }},
        {{ first_broken_rule(ds, 'reason') }} as rule_reason,
        {{ first_broken_rule(ds, 'column') }} as rule_column
    from checked
)

select
    {{ staging_file_columns() }}, line_number,
    {{ ds.column_names | join(', ') }},
    rule_reason as kept_aside_reason,
    rule_column as kept_aside_column
from judged
