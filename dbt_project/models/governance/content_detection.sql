{#- Content detection: every text column of every dataset's current state is scanned (in
    full — a sample cannot promise to find 1 row in 10,000) for identity numbers (GB 11643
    checksum), mobile numbers, bank card numbers (Luhn) and credit codes (GB 32100 checksum)
    inside its values, so a column declared harmless but carrying personal data is caught.
    Columns whose declared class already is one of these (id_number, phone, bank_account,
    certificate_no, uscc) are treated as that class and not scanned again.
    One scan per dataset; regular expressions run only on values with enough digits. -#}
-- depends_on: {{ ref('column_classes') }}
-- depends_on: {{ ref('int_household_registration__current') }}
-- depends_on: {{ ref('int_floating_population__current') }}
-- depends_on: {{ ref('int_social_insurance__current') }}
-- depends_on: {{ ref('int_enterprise_registry__current') }}
-- depends_on: {{ ref('int_disability_certificates__current') }}
-- depends_on: {{ ref('int_elderly_subsidy__current') }}
-- depends_on: {{ ref('int_death_records__current') }}
{%- set skip_classes = ['identity_number', 'certificate_number', 'phone', 'bank_account',
                        'enterprise_code'] %}
{%- set scanned = {} %}
{%- if execute %}
  {%- set rows = run_query(
      "select dataset, column_name from " ~ ref('column_classes')
      ~ " where class not in ('" ~ skip_classes | join("', '") ~ "')"
      ~ " order by dataset, position") %}
  {%- for r in rows %}
    {%- set ds = huiliu_dataset(r[0]) %}
    {%- set kind = (ds.columns | selectattr('name', 'equalto', r[1]) | first).kind %}
    {%- if kind in ['text', 'code', 'division'] %}
      {%- do scanned.setdefault(r[0], []).append(r[1]) %}
    {%- endif %}
  {%- endfor %}
{%- endif %}

with
{%- for name, columns in scanned.items() %}
values_{{ name }} as (
    select '{{ name }}'::text as dataset, v.column_name,
           translate(v.value, '０１２３４５６７８９ｘＸ', '0123456789xX') as value
    from {{ ref('int_' ~ name ~ '__current') }} as t
    cross join lateral (values
        {%- for c in columns %}
        ('{{ c }}', t.{{ adapter.quote(c) }}::text){{ ',' if not loop.last }}
        {%- endfor %}
    ) as v (column_name, value)
),
{%- endfor %}
scanned_values as (
    {%- for name in scanned %}
    select * from values_{{ name }}{{ ' union all' if not loop.last }}
    {%- endfor %}
    {%- if not scanned %}select null::text as dataset, null::text as column_name, null::text as value where false{% endif %}
),
digits as (
    select dataset, column_name, value,
           length(value) - length(translate(value, '0123456789', '')) as n_digits
    from scanned_values
),
candidates as (
    select dataset, column_name,
        case when n_digits >= 17
             then upper(substring(value from '(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])')) end as id18,
        case when n_digits >= 11
             then substring(value from '(?<![0-9])1[3-9][0-9][- ]?[0-9]{4}[- ]?[0-9]{4}(?![0-9])')
        end as mobile,
        case when n_digits >= 16
             then substring(value from '(?<![0-9])[0-9]{16,19}(?![0-9])') end as card,
        case when n_digits >= 1 and length(value) >= 18
             then substring(upper(value) from '(?<![0-9A-Z])[0-9A-HJ-NPQRTUWXY]{18}(?![0-9A-Z])')
        end as credit
    from digits
),
judged as (
    select dataset, column_name,
        coalesce(id18 is not null and {{ is_valid_id('id18') }}, false) as has_id,
        mobile is not null as has_mobile,
        coalesce(card is not null and privacy.luhn_valid(card)
                 and not (char_length(card) = 18 and {{ is_valid_id('card') }}), false) as has_card,
        coalesce(credit is not null and credit !~ '^[0-9]{17}[0-9X]$'
                 and {{ is_valid_uscc('credit') }}, false) as has_credit
    from candidates
)
select
    dataset,
    column_name,
    count(*) as rows_scanned,
    count(*) filter (where has_id) as rows_with_identity_number,
    count(*) filter (where has_mobile) as rows_with_mobile_number,
    count(*) filter (where has_card) as rows_with_bank_card_number,
    count(*) filter (where has_credit) as rows_with_credit_code,
    case
        when count(*) filter (where has_id) > 0 then 'identity_number_in_text'
        when count(*) filter (where has_card) > 0 then 'bank_card_number'
        when count(*) filter (where has_mobile) > 0 then 'mobile_number'
        when count(*) filter (where has_credit) > 0 then 'credit_code'
    end as detected_class
from judged
group by dataset, column_name
