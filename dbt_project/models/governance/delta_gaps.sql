{#- Per delta dataset, every date between its first and last loaded batch_date with no loaded
    file (never delivered, or only rejected). The current state still folds what has arrived;
    a gap is reported, not waited for. -#}

with loaded as (
    select distinct dataset, source, batch_date
    from {{ source('governance', 'batch_files') }}
    where status = 'loaded'
      and dataset in ({% for name in huiliu_dataset_names('delta') %}'{{ name }}'{{ ', ' if not loop.last }}{% endfor %})
),

spans as (
    select dataset, source, min(batch_date) as first_date, max(batch_date) as last_date
    from loaded
    group by dataset, source
),

days as (
    select spans.dataset, spans.source, day::date as batch_date
    from spans
    cross join lateral generate_series(spans.first_date, spans.last_date, interval '1 day') as day
)

select
    days.dataset,
    days.source,
    days.batch_date as gap_date
from days
left join loaded
    on loaded.dataset = days.dataset
   and loaded.source = days.source
   and loaded.batch_date = days.batch_date
where loaded.dataset is null
