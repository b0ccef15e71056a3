{#- 户籍人口 household_registration, current state (snapshot): the valid rows of the loaded snapshot with
    the latest batch_date. A snapshot arriving late for an older date never overrides a newer
    one; superseded and rejected files never count. Key: id_number. -#}
{%- set ds = huiliu_dataset('household_registration') %}

with latest_file as (
    {{ latest_loaded_snapshot(ds) }}
)

select
    {{ current_state_columns(ds, 'stg') }},
    stg.batch_date,
    stg.file_id
from {{ ref('stg_household_registration') }} as stg
join latest_file on latest_file.file_id = stg.file_id
where stg.kept_aside_reason is null
