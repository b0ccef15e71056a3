{#- Every rule of screenings/*.yaml evaluated over the ledger it reads: one pass per ledger, one row
    per (rule, subject) that the current state shows, with the evidence the rule names (clear,
    pipeline-only: each tier sees it under its own policy). A subject is a person by identity
    number or an enterprise by its credit code, never by name. -#}
{%- set person = {'subject_key': 'l.id_number', 'subject_token': 'l.id_number_token', 'division_code': 'l.division_code',
                  'person_name': 'l.name', 'id_number': 'l.id_number', 'enterprise_name': 'null::text',
                  'uscc': 'null::text', 'birth_date': 'l.birth_date', 'batch_date': 'l.batch_date'} %}
{%- set enterprise = {'subject_key': 'l.uscc', 'subject_token': 'privacy.token(l.uscc)', 'division_code': 'l.division_code',
                      'person_name': 'l.legal_rep_name', 'id_number': 'l.legal_rep_id_number',
                      'enterprise_name': 'l.enterprise_name', 'uscc': 'l.uscc', 'birth_date': 'null::date',
                      'batch_date': 'l.batch_date'} %}
{%- set ledgers = huiliu_screenings() | map(attribute='ledger') | unique | list %}
with
{{ screening_hits('person_ledger', person) if 'person_ledger' in ledgers }}
{{ screening_hits('enterprise_ledger', enterprise) if 'enterprise_ledger' in ledgers }}
none_found as (  -- the shape of a hit when no rule reads a ledger
    select {% for c in warning_hit_columns() %}null::{{ 'date' if c in ['birth_date', 'batch_date'] else ('jsonb' if c.startswith('ev_') else 'text') }} as {{ c }}{{ ', ' if not loop.last }}{% endfor %}
    where false
)
{%- for ledger in ledgers %}
{{ screening_branches(ledger) }}
union all
{%- endfor %}
select * from none_found
