{#- Rows of the current state held back by a value expectation (severity "value" in
    expectations/datasets/*.json, as SQL in macros/value_quality.sql): judged once, before any
    tier, so every audience drops the same rows (prot_<dataset> leaves them out). One row per
    offending row: its file and line, the first failing expectation and its column; no value. -#}

{%- set checks = huiliu_value_checks() %}
{%- for name in huiliu_dataset_names() %}
{%- set ds_checks = checks.get(name, []) %}
select
    '{{ name }}'::text as dataset,
    x.file_id,
    x.line_number,
    v.expectation,
    v.column_name
from (
    select
        c.file_id,
        c.line_number,
        {%- if ds_checks %}
        case
            {%- for chk in ds_checks %}
            when {{ chk[2] }} then {{ loop.index }}
            {%- endfor %}
        end as check_no
        {%- else %}
        null::integer as check_no
        {%- endif %}
    from {{ ref('int_' ~ name ~ '__current') }} as c
    cross join (
        select max(batch_date) as batch_date
        from {{ source('governance', 'batch_files') }}
        where dataset = '{{ name }}' and status = 'loaded'
    ) as d
) as x
join (
    values {% for chk in ds_checks %}({{ loop.index }}, '{{ chk[0] }}'::text, '{{ chk[1] }}'::text){{ ', ' if not loop.last }}{% else %}(0, null::text, null::text){% endfor %}
) as v (check_no, expectation, column_name) using (check_no)
{% if not loop.last %}
union all
{% endif %}
{%- endfor %}
