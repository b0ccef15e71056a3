{#- 流动人口 floating_population, current state (delta): the fold of every valid row of the loaded delta
    files in order of (batch_date, updated_at, line_number) — per key the last event wins; I/U
    leave the key present with that row's values, D leaves it absent (a D of an absent key is a
    no-op). A late batch folds into its place. Key: id_number. -#}
{%- set ds = huiliu_dataset('floating_population') %}

with last_events as (
    select distinct on ({{ key_columns(ds, collate=true) }})
        {{ current_state_columns(ds) }},
        op,
        batch_date,
        file_id
    from {{ ref('stg_floating_population') }}
    where file_status = 'loaded'
      and kept_aside_reason is null
    order by {{ key_columns(ds, collate=true) }}, {{ fold_order_desc() }}
)

select
    {{ current_state_columns(ds) }},
    batch_date,
    file_id
from last_events
where op <> 'D'
