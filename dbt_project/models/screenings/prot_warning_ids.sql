{{ config(materialized='incremental', incremental_strategy='append', unlogged=false, full_refresh=false) }}
{#- The register of warning ids: one per (rule, subject), assigned when the subject is first
    found and never changed or reused, so an id is the same across runs, re-deliveries and token
    key rotations, and carries nothing of the subject (a number from protected.warning_id_seq, not a
    hash of an identity number). Append-only and logged; `full_refresh=false` keeps it through
    `dbt build --full-refresh`. -#}
with hits as (
    select distinct h.rule, h.subject_key from {{ ref('prot_screening_hits') }} as h
),
unnumbered as (  -- in the order of a digest of (rule, subject): the same hits get the same numbers
    select h.rule, h.subject_key
    from hits as h
    {%- if is_incremental() %}
    where not exists (select 1 from {{ this }} as i where i.rule = h.rule and i.subject_key = h.subject_key)
    {%- endif %}
    order by md5(h.rule || ':' || h.subject_key), h.rule, h.subject_key
),
fresh as (
    select u.rule, u.subject_key, nextval('protected.warning_id_seq') as serial
    from unnumbered as u
)
select
    n.rule, n.subject_key, n.serial,
    'W' || case when n.serial < 100000000 then lpad(n.serial::text, 8, '0') else n.serial::text end as warning_id,
    {{ ledger_batch_date() }} as assigned_on
from fresh as n
