{#- One staging model: every raw record of a dataset's loaded and superseded files,
    normalised, typed and judged by the contract's row rules in order (kept_aside_reason /
    kept_aside_column NULL = loaded); duplicate_key is judged last, for snapshots only.
    Columns, kinds and codes come from macros/contract.sql; the steps from row_rules.sql. -#}
{% macro staged_rows(name) -%}
{%- set ds = huiliu_dataset(name) %}

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
    from {{ source('raw', name) }} as r
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
){% if ds.mode == 'snapshot' %},

ranked as (
    select
        judged.*,
        rank() over latest as latest_rank,
        count(*) over latest as latest_peers
    from judged
    window latest as ({{ duplicate_key_window(ds) }})
)

select
    {{ staging_file_columns() }}, line_number,
    {{ ds.column_names | join(', ') }},
    {{ duplicate_key_reason(ds) }} as kept_aside_reason,
    {{ duplicate_key_column(ds) }} as kept_aside_column
from ranked
{%- else %}

select
    {{ staging_file_columns() }}, line_number,
    {{ ds.column_names | join(', ') }},
    rule_reason as kept_aside_reason,
    rule_column as kept_aside_column
from judged
{%- endif %}

{%- endmacro %}
