{#- GENERATED from expectations/datasets/*.json by `python -m pipelines.tiers.quality_macro`: do
    not edit. Per dataset, its value expectations as [name, column, SQL condition that a row
    FAILS], in suite order (the first failing one names the row's reason). `c` is the current
    state's row, `d.batch_date` the dataset's latest loaded batch date. -#}

{% macro huiliu_value_checks() -%}
{{ return({
    'household_registration': [
        ['birth_date_in_range', 'birth_date', 'c.birth_date is not null and not (c.birth_date >= date \'1880-01-01\' and c.birth_date <= d.batch_date)'],
        ['updated_at_in_range', 'updated_at', 'c.updated_at is not null and not ((c.updated_at at time zone \'Asia/Shanghai\')::date >= date \'2000-01-01\' and (c.updated_at at time zone \'Asia/Shanghai\')::date <= (d.batch_date + 1))'],
    ],
    'floating_population': [
        ['registered_on_in_range', 'registered_on', 'c.registered_on is not null and not (c.registered_on >= date \'1980-01-01\' and c.registered_on <= d.batch_date)'],
        ['updated_at_in_range', 'updated_at', 'c.updated_at is not null and not ((c.updated_at at time zone \'Asia/Shanghai\')::date >= date \'2000-01-01\' and (c.updated_at at time zone \'Asia/Shanghai\')::date <= (d.batch_date + 1))'],
    ],
    'social_insurance': [
        ['started_on_in_range', 'started_on', 'c.started_on is not null and not (c.started_on >= date \'1951-01-01\' and c.started_on <= d.batch_date)'],
        ['updated_at_in_range', 'updated_at', 'c.updated_at is not null and not ((c.updated_at at time zone \'Asia/Shanghai\')::date >= date \'2000-01-01\' and (c.updated_at at time zone \'Asia/Shanghai\')::date <= (d.batch_date + 1))'],
    ],
    'enterprise_registry': [
        ['established_on_in_range', 'established_on', 'c.established_on is not null and not (c.established_on >= date \'1900-01-01\' and c.established_on <= d.batch_date)'],
        ['updated_at_in_range', 'updated_at', 'c.updated_at is not null and not ((c.updated_at at time zone \'Asia/Shanghai\')::date >= date \'2000-01-01\' and (c.updated_at at time zone \'Asia/Shanghai\')::date <= (d.batch_date + 1))'],
    ],
    'disability_certificates': [
        ['issued_on_in_range', 'issued_on', 'c.issued_on is not null and not (c.issued_on >= date \'1950-01-01\' and c.issued_on <= d.batch_date)'],
        ['updated_at_in_range', 'updated_at', 'c.updated_at is not null and not ((c.updated_at at time zone \'Asia/Shanghai\')::date >= date \'2000-01-01\' and (c.updated_at at time zone \'Asia/Shanghai\')::date <= (d.batch_date + 1))'],
    ],
    'elderly_subsidy': [
        ['paid_on_in_range', 'paid_on', 'c.paid_on is not null and not (c.paid_on >= date \'2000-01-01\' and c.paid_on <= d.batch_date)'],
        ['updated_at_in_range', 'updated_at', 'c.updated_at is not null and not ((c.updated_at at time zone \'Asia/Shanghai\')::date >= date \'2000-01-01\' and (c.updated_at at time zone \'Asia/Shanghai\')::date <= (d.batch_date + 1))'],
        ['amount_in_range', 'amount', 'c.amount is not null and not (c.amount >= 0 and c.amount <= 100000)'],
    ],
    'death_records': [
        ['died_on_in_range', 'died_on', 'c.died_on is not null and not (c.died_on >= date \'1900-01-01\' and c.died_on <= d.batch_date)'],
        ['updated_at_in_range', 'updated_at', 'c.updated_at is not null and not ((c.updated_at at time zone \'Asia/Shanghai\')::date >= date \'2000-01-01\' and (c.updated_at at time zone \'Asia/Shanghai\')::date <= (d.batch_date + 1))'],
    ],
}) }}
{%- endmacro %}
