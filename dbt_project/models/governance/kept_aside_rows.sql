{#- One row per data row kept out of publishing, every dataset: where it came from, its line,
    the reason code (batches.md) and the failing column — or, for a contract-valid row of the
    current state that failed a value expectation, `quality:<expectation>` (quality_kept_aside).
    No raw value of the row. -#}

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
union all
{%- endfor %}
select
    f.source,
    f.batch_date,
    f.delivery,
    q.dataset,
    q.file_id,
    q.line_number,
    'quality:' || q.expectation as reason,
    q.column_name
from {{ ref('quality_kept_aside') }} as q
join {{ source('governance', 'batch_files') }} as f on f.file_id = q.file_id
