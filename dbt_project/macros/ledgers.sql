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
(select max(batch_date) from {{ source('governance', 'batch_files') }} where status = 'loaded')
{%- endmacro %}

{#- A person's death, by identity number (never by name): the latest death record's date. -#}
{% macro deaths_by_id() -%}
select id_number, max(died_on) as died_on
from {{ ref('prot_death_records') }}
group by 1
{%- endmacro %}
