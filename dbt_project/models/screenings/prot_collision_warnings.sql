{#- The warnings of the state's batch date with their lifecycle, judged against the state as of the
    last published batch date before it (protected.warning_state), so a re-run of the same date
    gives the same result: `new` on the date a warning is first found (again), `open` while it is
    found on the following dates, `resolved` once the data no longer shows it (kept, with the last
    evidence and `resolved_on`). `acknowledged`: a unit signed it off (`huiliu ack`) and its
    evidence has not changed since; the tiers leave those out. Pipeline-only: clear values. -#}
{%- set evidence = warning_evidence_columns() %}
{%- set state_columns = ['as_of', 'warning_id', 'rule', 'title', 'kind', 'severity', 'ledger', 'subject_key',
                         'subject_token', 'division_code', 'person_name', 'id_number', 'enterprise_name', 'uscc',
                         'birth_date', 'evidence', 'evidence_hash', 'first_seen', 'last_seen', 'resolved_on', 'status'] %}
{%- set carried = ['ledger', 'subject_key', 'division_code', 'person_name', 'id_number', 'enterprise_name', 'uscc',
                   'birth_date'] %}
{%- set columns = ['warning_id', 'rule', 'subject_token'] + carried %}
{%- for c in evidence %}{% do columns.append('ev_' ~ c) %}{% endfor %}
{%- do columns.extend(['evidence_hash', 'first_seen', 'last_seen', 'resolved_on', 'status']) %}
with d as (
    select {{ ledger_batch_date() }} as batch_date
),
hits as (
    select
        i.warning_id, h.rule, h.subject_token,
        {%- for c in carried %} h.{{ c }},{% endfor %}
        {%- for c in evidence %} h.ev_{{ c }},{% endfor %}
        md5(h.rule || ':' || jsonb_build_array({% for c in evidence %}h.ev_{{ c }}{{ ', ' if not loop.last }}{% endfor %})::text)
            as evidence_hash
    from {{ ref('prot_screening_hits') }} as h
    join {{ ref('prot_warning_ids') }} as i on i.rule = h.rule and i.subject_key = h.subject_key
),
rules as (
    {%- for r in huiliu_screenings() %}
    select '{{ r.code }}'::text as rule, '{{ r.title | replace("'", "''") }}'::text as title,
        '{{ r.kind }}'::text as kind, '{{ r.severity }}'::text as severity
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),
prev as (  -- the state as of the last published batch date before this one
    select {% for c in state_columns %}s.{{ c }}{{ ', ' if not loop.last }}{% endfor %}
    from {{ source('screenings', 'warning_state') }} as s
    where s.as_of = (select max(x.as_of) from {{ source('screenings', 'warning_state') }} as x
                     where x.as_of < (select d.batch_date from d))
),
found as (
    select
        h.warning_id, h.rule, h.subject_token,
        {%- for c in carried %} h.{{ c }},{% endfor %}
        {%- for c in evidence %} h.ev_{{ c }},{% endfor %}
        h.evidence_hash,
        case when p.status in ('new', 'open') then p.first_seen else d.batch_date end as first_seen,
        d.batch_date as last_seen,
        null::date as resolved_on,
        case when p.status in ('new', 'open') then 'open' else 'new' end as status
    from hits as h
    cross join d
    left join prev as p on p.warning_id = h.warning_id
),
gone as (  -- found before, not now: resolved (on this date, if it was still found on the last one)
    select
        p.warning_id, p.rule, privacy.token(p.subject_key) as subject_token,
        {%- for c in carried %} p.{{ c }},{% endfor %}
        {%- for c in evidence %} p.evidence -> '{{ c }}' as ev_{{ c }},{% endfor %}
        p.evidence_hash, p.first_seen, p.last_seen,
        case when p.status = 'resolved' then p.resolved_on else d.batch_date end as resolved_on,
        'resolved'::text as status
    from prev as p
    cross join d
    where not exists (select 1 from hits as h where h.warning_id = p.warning_id)
),
w as (
    select {{ columns | join(', ') }} from found
    union all
    select {{ columns | join(', ') }} from gone
)
select
    d.batch_date as as_of, w.warning_id, w.rule, r.title, r.kind, r.severity, w.subject_token,
    {%- for c in carried %} w.{{ c }},{% endfor %}
    {%- for c in evidence %} w.ev_{{ c }},{% endfor %}
    jsonb_strip_nulls(jsonb_build_object({% for c in evidence %}'{{ c }}', w.ev_{{ c }}{{ ', ' if not loop.last }}{% endfor %}))
        as evidence,
    w.evidence_hash, w.first_seen, w.last_seen, w.resolved_on, w.status,
    exists (select 1 from {{ source('governance', 'collision_acknowledgements') }} as a
            where a.warning_id = w.warning_id and a.evidence_hash = w.evidence_hash) as acknowledged
from w
cross join d
join rules as r on r.rule = w.rule  -- a rule removed from screenings/ takes its warnings with it
