{#- 人口专题库 before any tier: per village, and per town over everything under it (town9 + 000),
    the person ledger counted into measures — registered residents by age band and gender, aged
    80+, households, single-person households of someone 60+, floating population, disabled
    persons by type. Ages count from the birth year (as below the city), so the profile of one
    day and the next differ by people, never by birthdays. `source_dataset` names the dataset a
    measure tells about (the small-cell rule of topic_tier_model judges a unit's access by it)
    and `subjects` the persons under each cell. Pipeline-only (schema protected). -#}
with people as (
    select
        l.division_code, l.gender, l.age_by_year, {{ age_band('l.age_by_year') }} as age_band,
        l.household_id_token, l.household_size, l.is_registered, l.is_floating, l.disability_type
    from {{ ref('prot_person_ledger') }} as l
),
placed as (  -- each person in their village (not for town-level codes) and in their town
    {{ in_village_and_town('people') }}
),
cells as (
    select unit_code, division_level, 'population' as measure, '户籍人口' as measure_label,
           case when grouping(age_band) = 1 then '合计'
                else age_band || ' ' || case gender when '1' then '男' when '2' then '女' else '未知' end end as category,
           count(*) as value, count(*) as subjects, 'household_registration' as source_dataset
    from placed where is_registered
    group by grouping sets ((unit_code, division_level, age_band, gender), (unit_code, division_level))
    union all
    select unit_code, division_level, 'aged_80_plus', '80岁及以上户籍人口', '合计', count(*), count(*),
           'household_registration'
    from placed where is_registered and age_by_year >= 80 group by 1, 2
    union all
    select unit_code, division_level, 'households', '户数', '合计', count(distinct household_id_token),
           count(distinct household_id_token), 'household_registration'
    from placed where is_registered group by 1, 2
    union all
    select unit_code, division_level, 'living_alone_60_plus_households', '60岁及以上独居户数', '合计',
           count(*), count(*), 'household_registration'
    from placed where is_registered and household_size = 1 and age_by_year >= 60 group by 1, 2
    union all
    select unit_code, division_level, 'floating', '流动人口', '合计', count(*), count(*), 'floating_population'
    from placed where is_floating group by 1, 2
    union all
    select unit_code, division_level, 'disabled', '持证残疾人', case when grouping(disability_type) = 1 then '合计' else disability_type end,
           count(*), count(*), 'disability_certificates'
    from placed where disability_type is not null
    group by grouping sets ((unit_code, division_level, disability_type), (unit_code, division_level))
)
select
    unit_code as division_code, division_level, measure, measure_label, category,
    value::numeric as value, subjects::integer as subjects, source_dataset
from cells
