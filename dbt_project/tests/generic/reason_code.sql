{#- A kept-aside reason is a row rule code of batches.md, or quality:<name of a value expectation>. -#}
{% test reason_code(model, column_name, codes) %}
{%- set names = [] %}
{%- for ds, checks in huiliu_value_checks().items() %}{% for chk in checks %}{% do names.append('quality:' ~ chk[0]) %}{% endfor %}{% endfor %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is null
   or {{ column_name }} not in ({% for c in (codes + names) | unique %}'{{ c }}'{{ ', ' if not loop.last }}{% endfor %})
{% endtest %}
