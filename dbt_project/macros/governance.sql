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
    execution time: the policy is data, so the SQL of a tier follows the seeds and what
    content detection found in this run. Empty at parse time. -#}
{% macro catalog_rows(dataset, audience) -%}
{%- set column = 'action_granted' if audience == 'clear_names' else 'action_' ~ audience -%}
{%- if not execute %}{{ return([]) }}{% endif -%}
{%- set result = run_query(
    "select column_name, class, " ~ column ~ ", label, grade from " ~ ref('column_catalog')
    ~ " where dataset = '" ~ dataset ~ "' order by position") -%}
{%- set rows = [] -%}
{%- for r in result if r[0] != 'op' -%}
  {#- op is consumed by the delta fold: the current state has no such column -#}
  {%- set action = r[2] -%}
  {#- a grant at level clear_names shows names and phones in clear -#}
  {%- if audience == 'clear_names' and r[1] in ['person_name', 'phone'] -%}{%- set action = 'keep' -%}{%- endif -%}
  {#- the division code is what splits a tier into units: always kept -#}
  {%- if r[0] == 'division_code' -%}{%- set action = 'keep' -%}{%- endif -%}
  {%- do rows.append({'column': r[0], 'class': r[1], 'action': action, 'label': r[3],
                      'grade': r[4]}) -%}
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
{%- elif c.action == 'generalize' and c.class == 'address' -%}privacy.generalize_address({{ alias }}.division_code) as {{ out }}
{%- elif c.action == 'generalize' -%}privacy.generalize_date({{ col }}) as {{ out }}
{%- endif -%}
{%- endmacro %}

{#- The desensitized current state of a dataset for one audience. -#}
{% macro tier_relation(dataset, audience) -%}
-- depends_on: {{ ref('column_catalog') }}
{%- set rows = catalog_rows(dataset, audience) %}
{%- set kept = [] %}
{%- for c in rows %}{% set sql = tier_column(c) %}{% if sql | trim %}{% do kept.append(sql) %}{% endif %}{% endfor %}
select
    {{ kept | join(',\n    ') if kept else 't.division_code' }}
from {{ ref('int_' ~ dataset ~ '__protected') }} as t
{%- endmacro %}

{#- COMMENTs on a tier relation: Chinese label, class, grade and action of every column. -#}
{% macro tier_comments(dataset, audience) -%}
{%- if execute -%}
{%- set rows = catalog_rows(dataset, audience) -%}
{%- set ds = huiliu_dataset(dataset) -%}
comment on table {{ this }} is '{{ ds.label }} ({{ dataset }}) — {{ audience }} 口径的脱敏现状';
{%- for c in rows if c.action != 'drop' %}
comment on column {{ this }}.{{ adapter.quote(c.column) }} is '{{ c.label }} | {{ c.class }} | L{{ c.grade }} | {{ c.action }}';
{%- if c.action == 'token' %}
comment on column {{ this }}.{{ adapter.quote(c.column ~ '_token') }} is '{{ c.label }}令牌 (HMAC-SHA256, 各层一致) | token | L2 | keep';
{%- endif %}
{%- endfor %}
{%- endif -%}
{%- endmacro %}
