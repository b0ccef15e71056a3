{#- 一人一档 before any tier: one row per person of the county — registered residents
    (household_registration) and the floating population (registered elsewhere, living here;
    a registered resident also in it stays one row, tagged floating) — with the ledger's base
    columns (ledgers/tags.yaml) and its tags at the city's precision (the exact age as of the
    state's batch date). The floating population's delivery carries no birth date or gender, and
    huiliu does not decode them from the identity number, whose birth segment every tier but the
    owner masks: a person only in it has no age (docs/decisions.md). Tokens are the datasets' own, so a ledger row
    joins a person's records in every tier. Pipeline-only (schema protected): clear values. -#}
with state as (
    select {{ ledger_batch_date() }} as batch_date
),
registered as (
    select
        h.id_number, h.id_number_token, h.name, h.gender, h.birth_date, h.division_code,
        h.household_id,
        privacy.token_with(h.household_id, k.inner_pad, k.outer_pad) as household_id_token,  -- whatever the catalog does with household_id
        count(*) over (partition by h.household_id) as household_size
    from {{ ref('prot_household_registration') }} as h
    left join privacy_key.hmac_pads as k on true
),
floating as (
    select f.id_number, f.id_number_token, f.name, f.division_code, f.registered_on, f.updated_at
    from {{ ref('prot_floating_population') }} as f
),
people as (
    select r.*, true as is_registered, exists (
        select 1 from floating f where f.id_number = r.id_number) as is_floating
    from registered as r
    union all
    select
        f.id_number, f.id_number_token, f.name,
        null, null::date, f.division_code,
        null, null, null, false, true
    from floating as f
    where not exists (select 1 from registered r where r.id_number = f.id_number)
),
deaths as (
    {{ deaths_by_id() }}
),
disabilities as (  -- the most severe certificate (grade 1 is the most severe)
    select distinct on (id_number) id_number, disability_type, disability_grade,
        case when nullif(trim(guardian_name), '') is not null then true else false end as guardian_recorded
    from {{ ref('prot_disability_certificates') }}
    order by id_number, disability_grade, disability_type
),
subsidies as (  -- a period is `YYYY-MM`: later than the month of death when it sorts after it
    select e.id_number, max(e.period) as latest_subsidy_period,
        count(*) filter (where e.period > to_char(d.died_on, 'YYYY-MM'))::integer as subsidy_periods_after_death
    from {{ ref('prot_elderly_subsidy') }} as e
    left join deaths as d on d.id_number = e.id_number
    group by 1
),

pensions as (  -- the best pension insurance status: 1 paying < 2 suspended < 3 ended
    select id_number, min(status) as pension_status
    from {{ ref('prot_social_insurance') }}
    where insurance_type in ('110', '120')
    group by 1
),
l as (
    select
        p.id_number, p.id_number_token, p.name, p.gender, p.birth_date,
        extract(year from age(s.batch_date, p.birth_date))::integer as age,
        extract(year from s.batch_date)::integer - extract(year from p.birth_date)::integer as age_by_year,
        p.division_code, p.household_id, p.household_id_token,
        p.household_size::integer as household_size, p.is_registered, p.is_floating,
        d.died_on, x.disability_type, x.disability_grade,
        y.latest_subsidy_period,
        (select max(e.period) from {{ ref('prot_elderly_subsidy') }} as e) as state_subsidy_period,
        n.pension_status,
        coalesce(y.subsidy_periods_after_death, 0) as subsidy_periods_after_death,
        x.guardian_recorded,
        fd.registered_on as floating_registered_on,
        fd.updated_at as floating_updated_at,
        s.batch_date
    from people as p
    cross join state as s
    left join deaths as d on d.id_number = p.id_number
    left join disabilities as x on x.id_number = p.id_number
    left join subsidies as y on y.id_number = p.id_number
    left join pensions as n on n.id_number = p.id_number
    left join floating as fd on fd.id_number = p.id_number
)
select
    l.*,
    {{ ledger_tag_columns('person_ledger') }}
from l
