{#- The current state of a dataset, as batches.md "Deliveries, snapshots and deltas" defines it.
    Snapshot: the valid rows of the loaded snapshot with the latest batch_date (an older one
    arriving late never overrides it; superseded and rejected files never count). Delta: the
    fold of every valid row of the loaded files in (batch_date, updated_at, line_number)
    order — per key the last event wins; I/U leave the key present with that row's values,
    D leaves it absent (a D of an absent key is a no-op); a late batch folds into its place. -#}
{% macro current_state(name) -%}
{%- set ds = huiliu_dataset(name) %}
{%- if ds.mode == 'snapshot' %}
with latest_file as (
    {{ latest_loaded_snapshot(ds) }}
)

select
    {{ current_state_columns(ds, 'stg') }},
    stg.batch_date,
    stg.file_id,
    stg.line_number
from {{ ref('stg_' ~ name) }} as stg
join latest_file on latest_file.file_id = stg.file_id
where stg.kept_aside_reason is null
{%- else %}
with last_events as (
    select distinct on ({{ key_columns(ds, collate=true) }})
        {{ current_state_columns(ds) }},
        op,
        batch_date,
        file_id,
        line_number
    from {{ ref('stg_' ~ name) }}
    where file_status = 'loaded'
      and kept_aside_reason is null
    order by {{ key_columns(ds, collate=true) }}, {{ fold_order_desc() }}
)

select
    {{ current_state_columns(ds) }},
    batch_date,
    file_id,
    line_number
from last_events
where op <> 'D'
{%- endif %}
{%- endmacro %}
