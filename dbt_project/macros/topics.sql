{#- The topic libraries' small-cell rule (seeds/small_cells.csv): where a unit may not see the
    rows under a measure (a department, for a measure taken from a dataset its access does not
    cover), each cell from 1 to the threshold − 1 is suppressed, and so is the measure's total
    (合计) in that division wherever one of its cells is — the complementary cell that would
    otherwise give the first back — and every town row of the measure, which is the sum of its
    villages' cells. Units that see the rows (city, town, village) get every cell. -#}
{% macro topic_tier_model() -%}
-- depends_on: {{ ref('small_cells') }}
{{ tier_depends_on() }}
{%- set audience, topic = tier_parts() %}
{%- set facts = huiliu_derived()[topic] %}
{%- if audience == 'owner' %}{% set seen = facts['owner'] %}
{%- elif audience in ['granted', 'clear_names'] %}{% set seen = facts['granted'] %}
{%- else %}{% set seen = none %}{% endif %}
with p as (
    select p.*,
        {% if seen is none %}false{% else %}p.source_dataset not in ('{{ seen | join("', '") }}'){% endif %} as hidden
    from {{ ref('prot_' ~ topic) }} as p
),
cells as (
    select p.*, p.hidden and (p.division_level = 'town' or (p.subjects > 0 and p.subjects < {{ small_cell_threshold(topic) }})) as small
    from p
),
marked as (
    select c.*, c.small or (c.hidden and c.category = '合计'
        and bool_or(c.small) over (partition by c.division_code, c.measure)) as suppressed
    from cells as c
)
select
    m.division_code, m.division_level, m.measure, m.measure_label, m.category,
    case when m.suppressed then null else m.value end as value,
    m.suppressed
from marked as m
{%- endmacro %}

{#- The threshold of seeds/small_cells.csv for a topic, read when the model compiles (a literal in
    the SQL the lineage proof reads); a topic without a row fails the build. -#}
{% macro small_cell_threshold(topic) -%}
{%- if not execute %}{{ return(5) }}{% endif -%}
{%- set r = run_query("select min(threshold) from " ~ ref('small_cells') ~ " where relation = '" ~ topic ~ "'") -%}
{%- set v = r.columns[0].values()[0] -%}
{%- if v is none -%}{{ exceptions.raise_compiler_error("seeds/small_cells.csv has no threshold for " ~ topic) }}{%- endif -%}
{{ return(v | int) }}
{%- endmacro %}

{#- Each row of CTE `rows` in its village (not for a town-level code) and in its town (town9 + 000):
    the two levels a topic library counts at, as `unit_code` and `division_level`. -#}
{% macro in_village_and_town(rows) -%}
select r.*, r.division_code as unit_code, 'village' as division_level
from {{ rows }} as r where right(r.division_code, 3) <> '000'
union all
select r.*, left(r.division_code, 9) || '000', 'town'
from {{ rows }} as r
{%- endmacro %}
