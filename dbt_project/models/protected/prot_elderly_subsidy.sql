{#- elderly_subsidy: the current state with a keyed token beside every column some audience sees
    tokenized — computed once here and reused by every tier, so units can join on it. -#}
-- depends_on: {{ ref('column_catalog') }}
select
    t.*{% for c in tokenized_columns('elderly_subsidy') %},
    privacy.token(t.{{ adapter.quote(c) }}) as {{ adapter.quote(c ~ '_token') }}
    {%- endfor %}
from {{ ref('int_elderly_subsidy__current') }} as t
