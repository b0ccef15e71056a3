{#- Desensitization actions from least to most protective. -#}
{% macro action_rank(expr) -%}
array_position(array['keep', 'generalize', 'mask', 'token', 'drop'], {{ expr }})
{%- endmacro %}

{#- The stricter of a declared action and a detected one (null: declared stands). -#}
{% macro stricter_action(declared, detected) -%}
case when {{ detected }} is not null
      and {{ action_rank(detected) }} > {{ action_rank(declared) }}
     then {{ detected }} else {{ declared }} end
{%- endmacro %}

{#- The catalog rows of one dataset (column, class, action for the audience), read at
    execution time: the policy is data (seeds, content detection, the clear_names and
    division-code rules all in governance.column_catalog), so the SQL of a tier follows
    what this run's catalog says. Empty at parse time. -#}
{% macro catalog_rows(dataset, audience) -%}
{%- if not execute %}{{ return([]) }}{% endif -%}
{%- set result = run_query(
    "select column_name, class, action_" ~ audience ~ ", label, grade from " ~ ref('column_catalog')
    ~ " where dataset = '" ~ dataset ~ "' order by position") -%}
{%- set rows = [] -%}
{%- for r in result if r[0] != 'op' -%}
  {#- op is consumed by the delta fold: the current state has no such column -#}
  {%- do rows.append({'column': r[0], 'class': r[1], 'action': r[2], 'label': r[3], 'grade': r[4]}) -%}
{%- endfor -%}
{{ return(rows) }}
{%- endmacro %}

{#- Columns that some audience sees as a token: tokenized once, upstream of every tier. -#}
{% macro tokenized_columns(dataset) -%}
{%- if not execute %}{{ return([]) }}{% endif -%}
{%- set result = run_query(
    "select column_name from " ~ ref('column_catalog') ~ " where dataset = '" ~ dataset
    ~ "' and 'token' in (action_city, action_owner, action_granted, action_town, action_village)"
    ~ " order by position") -%}
{{ return(result.columns[0].values() | list) }}
{%- endmacro %}

{#- The masking function for a class (all named, so lineage can see them). -#}
{% macro mask_expression(class, col) -%}
{%- if class == 'person_name' -%}privacy.mask_name({{ col }})
{%- elif class == 'phone' -%}privacy.mask_phone({{ col }})
{%- elif class in ['identity_number', 'certificate_number', 'household_id'] -%}privacy.mask_id({{ col }})
{%- elif class == 'bank_account' -%}privacy.mask_account({{ col }})
{%- else -%}privacy.mask_free_text({{ col }}::text)
{%- endif -%}
{%- endmacro %}

{#- One column of a tier relation under its action; empty when the action drops it. -#}
{% macro tier_column(c, alias='t') -%}
{%- set col = alias ~ '.' ~ adapter.quote(c.column) -%}
{%- set out = adapter.quote(c.column) -%}
{%- if c.action == 'keep' -%}{{ col }} as {{ out }}
{%- elif c.action == 'mask' -%}{{ mask_expression(c.class, col) }} as {{ out }}
{%- elif c.action == 'token' -%}{{ mask_expression(c.class, col) }} as {{ out }}, {{ alias }}.{{ adapter.quote(c.column ~ '_token') }} as {{ adapter.quote(c.column ~ '_token') }}
{%- elif c.action == 'generalize' and c.class == 'address' -%}ga.address as {{ out }}
{%- elif c.action == 'generalize' -%}privacy.generalize_date({{ col }}) as {{ out }}
{%- endif -%}
{%- endmacro %}

{#- The whole body of a protected model (models/protected/prot_<dataset>.sql): the dataset's
    current state with a keyed token (privacy.token_with, inlined: the pads joined once, not
    read per call) beside every column some audience sees tokenized, computed once here and
    reused by every tier, so units can join on it. -#}
{% macro protected_model() -%}
-- depends_on: {{ ref('column_catalog') }}
{%- if not this.name.startswith('prot_') -%}
  {{ exceptions.raise_compiler_error("protected model " ~ this.name ~ " must be named prot_<dataset>") }}
{%- endif -%}
{%- set dataset = this.name[5:] %}
select
    t.*{% for c in tokenized_columns(dataset) %},
    privacy.token_with(t.{{ adapter.quote(c) }}, k.inner_pad, k.outer_pad) as {{ adapter.quote(c ~ '_token') }}
    {%- endfor %}
from {{ ref('int_' ~ dataset ~ '__current') }} as t
left join privacy_key.hmac_pads as k on true  -- the one row of pads (none: no key, tokens null)
where not exists (  -- held back by a value expectation: absent from every tier, no older value carried over
    select 1 from {{ ref('quality_kept_aside') }} as q
    where q.dataset = '{{ dataset }}' and q.file_id = t.file_id and q.line_number = t.line_number
)
{%- endmacro %}

{#- (audience, dataset) of the tier model being built: its folder is the audience
    (models/tiers/<audience>/) and its name `<audience>__<dataset>`; a file whose name does not
    follow its folder fails the build instead of guessing. -#}
{% macro tier_parts() -%}
{%- set audience = model.fqn[-2] -%}
{%- set prefix = audience ~ '__' -%}
{%- if model.fqn[1] != 'tiers' or not this.name.startswith(prefix) -%}
  {{ exceptions.raise_compiler_error("tier model " ~ this.name ~ " must be models/tiers/<audience>/<audience>__<dataset>.sql") }}
{%- endif -%}
{{ return([audience, this.name[prefix | length:]]) }}
{%- endmacro %}

{#- The desensitized current state of a dataset for one audience: the whole body of a tier model. -#}
{% macro tier_model() -%}
{{ tier_depends_on() }}
{%- set audience, dataset = tier_parts() %}
{%- set rows = catalog_rows(dataset, audience) %}
{%- set kept = [] %}
{%- for c in rows %}{% set sql = tier_column(c) %}{% if sql | trim %}{% do kept.append(sql) %}{% endif %}{% endfor %}
select
    {{ kept | join(',\n    ') if kept else 't.division_code' }}
from {{ ref('prot_' ~ dataset) }} as t
{%- if rows | selectattr('action', 'equalto', 'generalize') | selectattr('class', 'equalto', 'address') | list %}
{{ generalized_addresses('t', ref('prot_' ~ dataset)) }}
{%- endif %}
{%- endmacro %}

{#- The division an address is generalized to, looked up once per distinct division code (a few
    hundred) and joined back as `ga.address`, not a query per row. -#}
{% macro generalized_addresses(alias, relation) -%}
left join (
    select d.code, privacy.generalize_address(d.code) as address
    from (select distinct division_code as code from {{ relation }}) as d
    offset 0  -- keeps the function on the distinct codes: inlined, it would run once per row
) as ga on ga.code = {{ alias }}.division_code
{%- endmacro %}

{#- COMMENTs on a tier relation (its post-hook, set once in dbt_project.yml; a twin view's own
    statement, tier_twins.sql): Chinese label, class, grade and action of every column. -#}
{% macro tier_comments(kind='table') -%}
{%- if execute -%}
{%- set audience, dataset = tier_parts() -%}
{%- set rows = catalog_rows(dataset, audience) -%}
{%- set derived = huiliu_derived().get(dataset) -%}
{%- set label = derived['label'] if derived else huiliu_dataset(dataset).label -%}
comment on {{ kind }} {{ this }} is '{{ label }} ({{ dataset }}) — {{ audience }} 口径的脱敏现状';
{%- for c in rows if c.action != 'drop' %}
comment on column {{ this }}.{{ adapter.quote(c.column) }} is '{{ c.label }} | {{ c.class }} | L{{ c.grade }} | {{ c.action }}';
{%- if c.action == 'token' and not derived %}
comment on column {{ this }}.{{ adapter.quote(c.column ~ '_token') }} is '{{ c.label }}令牌 (HMAC-SHA256, 各层一致) | token | L2 | keep';
{%- endif %}
{%- endfor %}
{%- endif -%}
{%- endmacro %}
