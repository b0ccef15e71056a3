{#- Helpers over the contract macro (contract.sql, generated from pipelines/contract.py). -#}

{#- One dataset as a dict: name, label, source, mode, owner, key, columns (dicts with name,
    kind, codes), column_names, required (key columns, division_code and op for deltas, in
    column order), n_columns. -#}
{% macro huiliu_dataset(name) -%}
    {%- set spec = huiliu_contract()[name] -%}
    {%- set columns = [] -%}
    {%- set required = [] -%}
    {%- for c in spec['columns'] -%}
        {%- do columns.append({'name': c[0], 'kind': c[1], 'codes': (c[2] if c | length > 2 else [])}) -%}
        {%- if c[0] in spec['key'] or c[0] == 'division_code' or (c[0] == 'op' and spec['mode'] == 'delta') -%}
            {%- do required.append(c[0]) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return({
        'name': name, 'label': spec['label'], 'source': spec['source'], 'mode': spec['mode'],
        'owner': spec['owner'], 'key': spec['key'], 'columns': columns,
        'column_names': columns | map(attribute='name') | list,
        'required': required, 'n_columns': columns | length,
    }) }}
{%- endmacro %}

{#- Names of the datasets, optionally of one mode ('snapshot' | 'delta'), in contract order. -#}
{% macro huiliu_dataset_names(mode=none) -%}
    {%- set names = [] -%}
    {%- for name, spec in huiliu_contract().items() -%}
        {%- if mode is none or spec['mode'] == mode -%}{%- do names.append(name) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}
