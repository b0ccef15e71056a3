{#- The two tables a warning's life outlives every build with, (re)created before every build
    (on-run-start; IF NOT EXISTS keeps their rows): the lifecycle state as of the last two published
    batch dates (pipeline-only, beside the clear values of protected), written by the publish step
    after its switch (pipelines/publish/warnings.py), and the acknowledgements `huiliu ack`
    records (governance, for auditors). -#}
{% macro create_warning_tables() %}
CREATE SCHEMA IF NOT EXISTS protected;
CREATE SEQUENCE IF NOT EXISTS protected.warning_id_seq;
CREATE TABLE IF NOT EXISTS protected.warning_state (
    as_of date NOT NULL, warning_id text NOT NULL, rule text NOT NULL, title text, kind text,
    severity text, ledger text, subject_key text, subject_token text, division_code text,
    person_name text, id_number text, enterprise_name text, uscc text, birth_date date,
    evidence jsonb, evidence_hash text, first_seen date, last_seen date, resolved_on date, status text,
    PRIMARY KEY (as_of, warning_id)
);
CREATE TABLE IF NOT EXISTS governance.collision_acknowledgements (
    ack_id bigserial PRIMARY KEY,
    warning_id text NOT NULL,
    rule text NOT NULL,
    unit text NOT NULL,
    acknowledged_by text NOT NULL,
    os_user text NOT NULL,
    acknowledged_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    note text,
    evidence_hash text NOT NULL
);
COMMENT ON TABLE governance.collision_acknowledgements IS
    '预警签收: 预警编号、规则、签收单位、签收人、操作系统用户、时间、备注、签收时的证据摘要 (证据变化后预警重新出现)';
{% endmacro %}

{#- Every evidence column of every rule, once (a column names one ledger's column: the rules loader
    refuses the same name read from two ledgers), in rule order. -#}
{% macro warning_evidence_columns() -%}
{%- set out = [] %}
{%- for r in huiliu_screenings() %}{% for c in r.evidence if c not in out %}{% do out.append(c) %}{% endfor %}{% endfor %}
{{ return(out) }}
{%- endmacro %}

{#- The columns every hit row carries, in order (the two ledgers' hits are unioned). -#}
{% macro warning_hit_columns() -%}
{%- set cols = ['rule', 'ledger', 'subject_key', 'subject_token', 'division_code', 'person_name', 'id_number',
                'enterprise_name', 'uscc', 'birth_date', 'batch_date'] %}
{%- for c in warning_evidence_columns() %}{% do cols.append('ev_' ~ c) %}{% endfor %}
{{ return(cols) }}
{%- endmacro %}

{#- One pass over a ledger: each of its rules' predicates and evidence computed on every row, the rows
    some rule finds kept once (a CTE the per-rule branches share), then one branch per rule. Evidence
    values are jsonb, one column per evidence column (ev_<name>), null where the rule does not name it.
    `subject` maps the hit's identifying columns to expressions over the ledger row `l`. -#}
{% macro screening_hits(ledger, subject) -%}
{%- set rules = huiliu_screenings() | selectattr('ledger', 'equalto', ledger) | list %}
{%- set evidence = warning_evidence_columns() %}
{%- if rules %}
{{ ledger }}_rows as (
    select
        {%- for k in ['subject_key', 'subject_token', 'division_code', 'person_name', 'id_number', 'enterprise_name', 'uscc', 'birth_date', 'batch_date'] %}
        {{ subject[k] }} as {{ k }},
        {%- endfor %}
        {%- for c in evidence %}
        {% if c in (rules | map(attribute='evidence') | sum(start=[])) %}to_jsonb(l.{{ adapter.quote(c) }}){% else %}null::jsonb{% endif %} as ev_{{ c }},
        {%- endfor %}
        {%- for r in rules %}
        coalesce(({{ r.sql }}), false) as hit_{{ r.code }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('prot_' ~ ledger) }} as l
),
{{ ledger }}_found as (  -- the few rows some rule finds, computed once for every branch
    select h.*
    from {{ ledger }}_rows as h
    where {% for r in rules %}h.hit_{{ r.code }}{{ ' or ' if not loop.last }}{% endfor %}
),
{%- endif %}
{%- endmacro %}

{#- The branches of one ledger's hits: one select per rule over its found rows. -#}
{% macro screening_branches(ledger) -%}
{%- set rules = huiliu_screenings() | selectattr('ledger', 'equalto', ledger) | list %}
{%- for r in rules %}
select '{{ r.code }}'::text as rule, '{{ ledger }}'::text as ledger, f.subject_key, f.subject_token, f.division_code,
    f.person_name, f.id_number, f.enterprise_name, f.uscc, f.birth_date, f.batch_date
    {%- for c in warning_evidence_columns() %},
    {% if c in r.evidence %}f.ev_{{ c }}{% else %}null::jsonb{% endif %} as ev_{{ c }}
    {%- endfor %}
from {{ ledger }}_found as f
where f.hit_{{ r.code }}
{{ 'union all' if not loop.last }}
{%- endfor %}
{%- endmacro %}

{#- One fact of a warning's evidence for an audience: the ev_<name> column under the action the
    audience's policy gives that ledger column (a department, which receives warnings by route, under
    the town policy), none when it is left out: kept, generalized (an age to the one counted from the
    birth year, a date to its year) or masked. -#}
{% macro warning_fact(c, alias='w') -%}
{%- set col = alias ~ '.ev_' ~ c.column -%}
{%- if c.action == 'keep' -%}{{ col }}
{%- elif c.action == 'generalize' and c.class == 'age' and c.column == 'age' -%}to_jsonb(extract(year from {{ alias }}.as_of)::integer - privacy.generalize_date({{ alias }}.birth_date))
{%- elif c.action == 'generalize' and c.class == 'age' -%}to_jsonb({{ age_band("(extract(year from " ~ alias ~ ".as_of)::integer - privacy.generalize_date(" ~ alias ~ ".birth_date))") }})
{%- elif c.action == 'generalize' -%}to_jsonb(privacy.generalize_date(({{ col }} #>> '{}')::date))
{%- elif c.action == 'mask' -%}to_jsonb({{ mask_expression(c.class, "(" ~ col ~ " #>> '{}')") }})
{%- endif -%}
{%- endmacro %}

{#- A warning's evidence for one audience: per rule, a jsonb object of the facts its policy shows. -#}
{% macro warning_evidence(audience, alias='w') -%}
{%- set policy_audience = 'town' if audience in ['granted', 'owner', 'clear_names'] else audience %}
{%- set rules = huiliu_screenings() %}
{%- set actions = {} %}
{%- for ledger in rules | map(attribute='ledger') | unique %}
  {%- for c in catalog_rows(ledger, policy_audience) %}{% do actions.update({ledger ~ '.' ~ c.column: c}) %}{% endfor %}
{%- endfor %}
case {{ alias }}.rule
{%- for r in rules %}
    when '{{ r.code }}' then jsonb_build_object(
        {%- set facts = [] %}
        {%- for k in r.evidence %}
          {%- set c = actions.get(r.ledger ~ '.' ~ k) %}
          {%- if c and warning_fact(c, alias) | trim %}{% do facts.append("'" ~ k ~ "', " ~ warning_fact(c, alias)) %}{% endif %}
        {%- endfor %}
        {{- facts | join(', ') -}})
{%- endfor %}
end
{%- endmacro %}

{#- The whole body of a collision_warnings tier model (models/tiers/<audience>/<audience>__collision_warnings.sql):
    the warnings routed to the audience's tier — every one for the city; for towns and villages those
    whose rule routes to `town` / `village` (the unit view keeps its own division's); for departments
    (granted) those routed to any department (the unit view keeps its own rules') — that no unit has
    acknowledged with the same evidence, each column under its action and the evidence fact by fact. -#}
{% macro warnings_tier_model() -%}
{{ tier_depends_on() }}
{%- set audience, relation = tier_parts() %}
{%- set rules = huiliu_screenings() %}
{%- if audience == 'city' %}{% set routed = none %}
{%- else %}{% set routed = [] %}
  {%- for r in rules %}{% for x in r.routes if r.code not in routed and (x == audience or (audience not in ['town', 'village'] and x.startswith('dept_'))) %}{% do routed.append(r.code) %}{% endfor %}{% endfor %}
{%- endif %}
{%- set kept = [] %}
{%- for c in catalog_rows(relation, audience) if c.action != 'drop' %}
  {%- if c.column == 'evidence' %}
    {%- do kept.append(warning_evidence(audience) ~ ' as evidence') %}
  {%- elif c.action == 'token' %}
    {%- do kept.append(mask_expression(c.class, 'w.' ~ adapter.quote(c.column)) ~ ' as ' ~ adapter.quote(c.column)) %}
  {%- else %}
    {%- do kept.append(tier_column(c, alias='w')) %}
  {%- endif %}
{%- endfor %}
select
    {{ kept | join(',\n    ') if kept else 'w.division_code' }}
from {{ ref('prot_collision_warnings') }} as w
where not w.acknowledged
{%- if routed is not none %}
  and w.rule in ({% for r in routed %}'{{ r }}'{{ ', ' if not loop.last }}{% else %}null{% endfor %})
{%- endif %}
{%- endmacro %}
