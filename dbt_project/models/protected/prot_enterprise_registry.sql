{#- enterprise_registry: the current state with a keyed token beside every column some audience sees
    tokenized — computed once here and reused by every tier, so units can join on it. -#}
-- depends_on: {{ ref('column_catalog') }}
select
    t.*{% for c in tokenized_columns('enterprise_registry') %},
    privacy.token(t.{{ adapter.quote(c) }}) as {{ adapter.quote(c ~ '_token') }}
    {%- endfor %}
from {{ ref('int_enterprise_registry__current') }} as t
