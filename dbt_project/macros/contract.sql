{#- The batch contract (shared/contracts/batches.md) as data, for generating SQL.
    Mirrors pipelines/contract.py (tests/test_staging.py checks that both agree): per dataset
    its source, mode, key and columns in contract order with their kind
    (op, id_number, uscc, uscc_optional, date, timestamp, period, amount, division, code,
    phone, text) and, for coded columns, the allowed values. -#}

{% macro huiliu_contract() -%}
{{ return({
    'household_registration': {
        'label': '户籍人口', 'source': 'province', 'mode': 'snapshot', 'owner': 'gaj',
        'key': ['id_number'],
        'columns': [
            ['id_number', 'id_number'],
            ['name', 'text'],
            ['gender', 'code', ['1', '2', '9']],
            ['birth_date', 'date'],
            ['ethnicity', 'text'],
            ['household_id', 'text'],
            ['relation_to_head', 'text'],
            ['address', 'text'],
            ['division_code', 'division'],
            ['phone', 'phone'],
            ['updated_at', 'timestamp'],
        ],
    },
    'floating_population': {
        'label': '流动人口', 'source': 'city', 'mode': 'delta', 'owner': 'gaj',
        'key': ['id_number'],
        'columns': [
            ['op', 'op', ['I', 'U', 'D']],
            ['id_number', 'id_number'],
            ['name', 'text'],
            ['phone', 'phone'],
            ['origin_division_code', 'text'],
            ['residence_address', 'text'],
            ['division_code', 'division'],
            ['registered_on', 'date'],
            ['employer', 'text'],
            ['remarks', 'text'],
            ['updated_at', 'timestamp'],
        ],
    },
    'social_insurance': {
        'label': '社保参保', 'source': 'province', 'mode': 'delta', 'owner': 'rsj',
        'key': ['id_number', 'insurance_type'],
        'columns': [
            ['op', 'op', ['I', 'U', 'D']],
            ['id_number', 'id_number'],
            ['name', 'text'],
            ['insurance_type', 'code', ['110', '120', '310', '390', '410', '210']],
            ['status', 'code', ['1', '2', '3']],
            ['employer_uscc', 'uscc_optional'],
            ['started_on', 'date'],
            ['division_code', 'division'],
            ['updated_at', 'timestamp'],
        ],
    },
    'enterprise_registry': {
        'label': '企业登记', 'source': 'province', 'mode': 'snapshot', 'owner': 'scjgj',
        'key': ['uscc'],
        'columns': [
            ['uscc', 'uscc'],
            ['enterprise_name', 'text'],
            ['legal_rep_name', 'text'],
            ['legal_rep_id_number', 'id_number'],
            ['legal_rep_phone', 'phone'],
            ['registered_capital', 'amount'],
            ['industry_code', 'text'],
            ['status', 'code', ['存续', '在业', '吊销', '注销', '迁出']],
            ['established_on', 'date'],
            ['address', 'text'],
            ['division_code', 'division'],
            ['updated_at', 'timestamp'],
        ],
    },
    'disability_certificates': {
        'label': '残疾人证', 'source': 'province', 'mode': 'snapshot', 'owner': 'cl',
        'key': ['certificate_no'],
        'columns': [
            ['certificate_no', 'text'],
            ['id_number', 'id_number'],
            ['name', 'text'],
            ['disability_type', 'code', ['1', '2', '3', '4', '5', '6', '7']],
            ['disability_grade', 'code', ['1', '2', '3', '4']],
            ['guardian_name', 'text'],
            ['guardian_phone', 'phone'],
            ['division_code', 'division'],
            ['issued_on', 'date'],
            ['updated_at', 'timestamp'],
        ],
    },
    'elderly_subsidy': {
        'label': '高龄津贴发放', 'source': 'city', 'mode': 'snapshot', 'owner': 'mzj',
        'key': ['id_number', 'period'],
        'columns': [
            ['id_number', 'id_number'],
            ['name', 'text'],
            ['period', 'period'],
            ['amount', 'amount'],
            ['bank_account', 'text'],
            ['division_code', 'division'],
            ['paid_on', 'date'],
            ['updated_at', 'timestamp'],
        ],
    },
    'death_records': {
        'label': '死亡登记', 'source': 'city', 'mode': 'delta', 'owner': 'mzj',
        'key': ['id_number'],
        'columns': [
            ['op', 'op', ['I', 'U', 'D']],
            ['id_number', 'id_number'],
            ['name', 'text'],
            ['died_on', 'date'],
            ['division_code', 'division'],
            ['source_org', 'text'],
            ['updated_at', 'timestamp'],
        ],
    },
}) }}
{%- endmacro %}


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
