{#- The tag columns of a ledger row `l`: `tags` (text[] of the codes that hold, in the order of
    ledgers/tags.yaml) and one boolean `tag_<code>` per tag. `visible`: the base columns the
    audience may see (none: all) — a tag reading a column outside it is left out, with its column,
    so no tier learns through a tag what it may not read. Predicates come from the generated
    macro (ledger_tags.sql), checked by sqlglot; a NULL comparison is false, never unknown. -#}
{% macro ledger_tag_columns(ledger, visible=none) -%}
{%- set tags = [] -%}
{%- for t in huiliu_ledger_tags()[ledger] -%}
  {%- if visible is none or (t['columns'] | reject('in', visible) | list | length == 0) -%}
    {%- do tags.append(t) -%}
  {%- endif -%}
{%- endfor -%}
{%- if tags -%}
array_remove(array[{% for t in tags %}case when ({{ t['sql'] }}) is true then '{{ t['code'] }}' end{{ ', ' if not loop.last }}{% endfor %}], null)::text[] as tags
{%- for t in tags %},
    coalesce(({{ t['sql'] }}), false) as {{ adapter.quote('tag_' ~ t['code']) }}
{%- endfor -%}
{%- else -%}
'{}'::text[] as tags
{%- endif -%}
{%- endmacro %}

{#- The batch date a ledger's ages and tags count from: the latest loaded batch (the state being
    published), the same for every ledger. -#}
{% macro ledger_batch_date() -%}
(select max(f.batch_date) from {{ source('governance', 'batch_files') }} as f where f.status = 'loaded')
{%- endmacro %}

{#- A person's death, by identity number (never by name): the latest death record's date. -#}
{% macro deaths_by_id() -%}
select r.id_number, max(r.died_on) as died_on
from {{ ref('prot_death_records') }} as r
group by 1
{%- endmacro %}

{#- An age band from an age (the person ledger's and the population profile's). -#}
{% macro age_band(age) -%}
case when {{ age }} is null then null when {{ age }} < 16 then '0-15' when {{ age }} < 60 then '16-59'
     when {{ age }} < 70 then '60-69' when {{ age }} < 80 then '70-79' when {{ age }} < 90 then '80-89'
     else '90+' end
{%- endmacro %}

{#- A ledger's age under its birth date's action: the exact age where the birth date is kept, else
    counted from the birth year (privacy.generalize_date), so no daily version gives a birthday. -#}
{% macro ledger_age(c, alias='t') -%}
{%- if c.action == 'keep' -%}{{ alias }}.age
{%- elif c.action == 'generalize' -%}(extract(year from {{ alias }}.batch_date)::integer - privacy.generalize_date({{ alias }}.birth_date))
{%- else -%}{{ exceptions.raise_compiler_error("an age can be kept or generalized, not " ~ c.action) }}
{%- endif -%}
{%- endmacro %}

{#- The whole body of a ledger's tier model (models/tiers/<audience>/<audience>__<ledger>.sql): the
    columns the audience's catalog rows keep, each under its action (a token column is its own
    column, so a tokenized source shows masked), then the tags recomputed over what the audience
    sees — a town's 高龄 counts from the birth year it sees, and a tag reading a column the
    audience may not see is left out with its column. -#}
{% macro ledger_tier_model() -%}
{{ tier_depends_on() }}
{%- set audience, ledger = tier_parts() %}
{%- set rows = catalog_rows(ledger, audience) %}
{%- set kept = [] %}
{%- set visible = [] %}
{%- for c in rows if c.class != 'tag' and c.action != 'drop' %}
  {%- do visible.append(c.column) %}
  {%- if c.class == 'age' and c.column == 'age_band' %}
    {%- do kept.append(age_band(ledger_age(c)) ~ ' as age_band') %}
  {%- elif c.class == 'age' %}
    {%- do kept.append(ledger_age(c) ~ ' as ' ~ adapter.quote(c.column)) %}
  {%- elif c.action == 'token' %}
    {%- do kept.append(mask_expression(c.class, 't.' ~ adapter.quote(c.column)) ~ ' as ' ~ adapter.quote(c.column)) %}
  {%- else %}
    {%- do kept.append(tier_column(c)) %}
  {%- endif %}
{%- endfor %}
with l as (
    select
        {{ kept | join(',\n        ') if kept else 't.division_code' }}
    from {{ ref('prot_' ~ ledger) }} as t
)
select
    l.*,
    {{ ledger_tag_columns(ledger, visible if execute else none) }}
from l
{%- endmacro %}
