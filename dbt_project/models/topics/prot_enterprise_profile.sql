{#- 企业专题库 before any tier: per village, and per town over everything under it (town9 + 000),
    the enterprise ledger counted by industry section and status, and its registered capital
    (万元) summed by industry section. `subjects`: the enterprises under each cell (the small-cell
    rule judges by them, not by the amount). Pipeline-only (schema protected). -#}
with enterprises as (
    select e.industry_section, e.status, e.registered_capital, e.division_code
    from {{ ref('prot_enterprise_ledger') }} as e
),
placed as (  -- each enterprise in its village (not for town-level codes) and in its town
    {{ in_village_and_town('enterprises') }}
),
cells as (
    select unit_code, division_level, 'enterprises' as measure, '企业数' as measure_label,
           case when grouping(industry_section) = 1 then '合计'
                else coalesce(industry_section, '未知') || ' ' || coalesce(status, '未知') end as category,
           count(*)::numeric as value, count(*) as subjects
    from placed
    group by grouping sets ((unit_code, division_level, industry_section, status), (unit_code, division_level))
    union all
    select unit_code, division_level, 'registered_capital', '注册资本合计(万元)', case when grouping(industry_section) = 1 then '合计' else coalesce(industry_section, '未知') end,
           coalesce(sum(registered_capital), 0)::numeric, count(*)
    from placed
    group by grouping sets ((unit_code, division_level, industry_section), (unit_code, division_level))
)
select
    unit_code as division_code, division_level, measure, measure_label, category, value,
    subjects::integer as subjects, 'enterprise_registry'::text as source_dataset
from cells
