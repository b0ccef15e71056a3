{#- One row per data row kept out of publishing, every dataset: where it came from, its line,
    the reason code (batches.md) and the failing column. No raw value of the row. -#}

{%- for name in huiliu_dataset_names() %}
select
    source,
    batch_date,
    delivery,
    '{{ name }}'::text as dataset,
    file_id,
    line_number,
    kept_aside_reason as reason,
    kept_aside_column as column_name
from {{ ref('stg_' ~ name) }}
where kept_aside_reason is not null
{% if not loop.last %}
union all
{% endif %}
{%- endfor %}
