{#- No audience materialized twice. Two audiences whose policies leave a dataset the same (a town
    and its villages, say) compile to the same SELECT; the later one is then a plain view over the
    table the earlier one wrote in this same dbt invocation, not a second copy of every row to
    write, gate, index and count. The audiences are ordered (tier_depends_on) so the earlier one
    is built first; the compiled bodies are compared by md5 in governance.tier_bodies, keyed on
    the invocation, so a twin is only ever a table built from the same SQL minutes before. -#}

{#- The audiences in build order: a model names its predecessor's model of the same relation. -#}
{% macro tier_build_order() -%}
{{ return(['city', 'granted', 'town', 'village']) }}
{%- endmacro %}

{#- The dependency lines every tier model starts with: the catalog it reads at execution time
    and the same relation of the audience before it (so that one is built first). -#}
{% macro tier_depends_on() -%}
-- depends_on: {{ ref('column_catalog') }}
{%- set audience, relation = tier_parts() %}
{%- set order = tier_build_order() %}
{%- if audience in order and audience != order[0] %}
-- depends_on: {{ ref(order[order.index(audience) - 1] ~ '__' ~ relation) }}
{%- endif %}
{%- endmacro %}

{#- The record of built tier bodies (on-run-start; only this invocation's rows are kept). -#}
{% macro create_tier_bodies() -%}
create schema if not exists governance;
create table if not exists governance.tier_bodies (
    relation text primary key,
    body_md5 text not null,
    physical text not null,
    invocation_id text not null,
    built_at timestamptz not null default now()
);
comment on table governance.tier_bodies is
    'Tier relations of the last dbt build and the table each reads: a relation whose SQL equals an earlier audience''s is a view over its table (one copy of the rows)';
delete from governance.tier_bodies where invocation_id <> '{{ invocation_id }}'
{%- endmacro %}

{#- The compiled SELECT without its `-- depends_on:` lines (they name the model's own predecessor). -#}
{% macro tier_body(compiled) -%}
{%- set lines = [] -%}
{%- for line in compiled.split('\n') if not line.strip().startswith('-- depends_on:') -%}
  {%- do lines.append(line) -%}
{%- endfor -%}
{{ return(lines | join('\n') | trim) }}
{%- endmacro %}

{#- The table this invocation already built from the same body, if it is still there. -#}
{% macro tier_twin(digest) -%}
{%- set found = run_query(
    "select b.physical from governance.tier_bodies b"
    ~ " join pg_class c on c.relname = b.physical and c.relkind = 'r'"
    ~ " join pg_namespace n on n.oid = c.relnamespace and n.nspname = '" ~ this.schema ~ "'"
    ~ " where b.invocation_id = '" ~ invocation_id ~ "' and b.body_md5 = '" ~ digest ~ "'"
    ~ " and b.relation <> '" ~ this.identifier ~ "' order by b.built_at, b.relation limit 1") -%}
{{ return(found.columns[0].values()[0] if found.rows | length > 0 else none) }}
{%- endmacro %}

{% macro tier_record(digest, physical) -%}
{%- call statement('tier_record') -%}
insert into governance.tier_bodies (relation, body_md5, physical, invocation_id)
values ('{{ this.identifier }}', '{{ digest }}', '{{ physical }}', '{{ invocation_id }}')
on conflict (relation) do update set body_md5 = excluded.body_md5, physical = excluded.physical,
    invocation_id = excluded.invocation_id, built_at = now()
{%- endcall -%}
{%- endmacro %}

{#- A tier model: a table (dbt's own materialization, with the folder's post-hooks), or a view
    over its twin with the same COMMENTs. The view's only dependency is the twin and it selects
    every column as is: publish/build.py and the gates recognise it by exactly that. -#}
{% materialization tier, adapter='postgres' %}
  {%- set digest = local_md5(tier_body(sql)) -%}
  {%- set twin = tier_twin(digest) -%}
  {%- if twin is none -%}
    {%- set relations = dbt.materialization_table_default() -%}
    {%- do tier_record(digest, this.identifier) -%}
    {%- do adapter.commit() -%}
    {{ return(relations) }}
  {%- endif -%}
  {%- set target = this.incorporate(type='view') -%}
  {%- set existing = load_cached_relation(this) -%}
  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}
  {%- if existing is not none -%}
    {%- do adapter.drop_relation(existing) -%}
  {%- endif -%}
  {%- call statement('main') -%}
    create view {{ target }} as select * from {{ this.incorporate(path={'identifier': twin}) }}
  {%- endcall -%}
  {%- call statement('tier_comments') -%}
    {{ tier_comments('view') }}
  {%- endcall -%}
  {%- do tier_record(digest, twin) -%}
  {%- do adapter.commit() -%}
  {%- do adapter.cache_added(target) -%}
  {{ return({'relations': [target]}) }}
{% endmaterialization %}
