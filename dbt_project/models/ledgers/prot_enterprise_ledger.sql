{#- 一企一档 before any tier: one row per enterprise of the county's current registry with the
    enterprise ledger's base columns (ledgers/tags.yaml) and its tags. The legal representative
    is matched by identity number, never by name: a death record or a floating registration of
    a namesake says nothing about them. Pipeline-only (schema protected): clear values. -#}
with state as (
    select {{ ledger_batch_date() }} as batch_date
),
deaths as (
    {{ deaths_by_id() }}
),
outside as (  -- floating people registered in another county (the county: its divisions' first 6 digits)
    select distinct f.id_number, true as floating_outside
    from {{ ref('prot_floating_population') }} as f
    where f.origin_division_code not in (select left(v.code, 6) from {{ source('governance', 'divisions') }} as v)
),
l as (
    select
        e.uscc, e.enterprise_name, e.legal_rep_name, e.legal_rep_id_number,
        e.legal_rep_id_number_token, e.legal_rep_phone, e.registered_capital, e.industry_code,
        e.status, e.established_on, e.address, e.division_code,
        upper(left(e.industry_code, 1)) as industry_section,
        d.died_on as legal_rep_died_on,
        coalesce(o.floating_outside, false) as legal_rep_floating_outside,
        s.batch_date
    from {{ ref('prot_enterprise_registry') }} as e
    cross join state as s
    left join deaths as d on d.id_number = e.legal_rep_id_number
    left join outside as o on o.id_number = e.legal_rep_id_number
)
select
    l.*,
    {{ ledger_tag_columns('enterprise_ledger') }}
from l
