{#- Per delivered file: rows loaded (staged rows that passed every rule and no value expectation
    held back) and rows kept aside
    (counted from kept_aside_rows, not derived from the loaded count, so the reconciliation
    rows_received = rows_loaded + rows_kept_aside of a loaded file is a real check); 0 and 0
    for a rejected file. -#}

with staged as (
    {%- for name in huiliu_dataset_names() %}
    select file_id, count(*) as rows_passed
    from {{ ref('stg_' ~ name) }}
    where kept_aside_reason is null
    group by file_id
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

held_by_quality as (
    select file_id, count(*) as rows_held
    from {{ ref('quality_kept_aside') }}
    group by file_id
),

loaded as (  -- passed every row rule, and no value expectation held it back
    select s.file_id, s.rows_passed - coalesce(q.rows_held, 0) as rows_loaded
    from staged as s
    left join held_by_quality as q on q.file_id = s.file_id
),

kept_aside as (
    select file_id, count(*) as rows_kept_aside
    from {{ ref('kept_aside_rows') }}
    group by file_id
)

select
    f.file_id,
    f.source,
    f.batch_date,
    f.delivery,
    f.dataset,
    f.status as file_status,
    f.rows_received,
    coalesce(l.rows_loaded, 0)::integer as rows_loaded,
    coalesce(k.rows_kept_aside, 0)::integer as rows_kept_aside
from {{ source('governance', 'batch_files') }} as f
left join loaded as l on l.file_id = f.file_id
left join kept_aside as k on k.file_id = f.file_id
