{#- One row per dataset column: its class, what content detection found in it, its grade and
    the action for each audience, with why. Grade = the highest of the contract's grade, the
    class's policy grade, an override, and the grade of a class detected in its content (the
    policy may raise the contract's grade, never lower it). Per audience the action is the
    column's own policy (seed column_policy) when it names one, else the class's policy action
    (or the grade's default when the class has none), made stricter by the detected class's
    action when content detection found personal data. A grant at level clear_names follows
    the granted action unless the class's policy names its own (names and phones: keep). The
    division code splits every tier into units: kept for every audience. -#}
{%- set audiences = ['city', 'owner', 'granted', 'town', 'village', 'clear_names'] %}
with columns as (
    select * from {{ ref('column_classes') }}
),
detected as (
    select dataset, column_name, detected_class from {{ ref('content_detection') }}
    where detected_class is not null
),
own as (
    select dataset, column_name,
        {%- for a in audiences %}
        max(action) filter (where audience = '{{ a }}') as o_{{ a }},
        {%- endfor %}
        string_agg(audience || ': ' || why, '; ' order by audience) as o_why
    from {{ ref('column_policy') }}
    group by 1, 2
),
graded as (
    select
        c.dataset, c.position, c.column_name, c.label, c.class, d.detected_class,
        c.contract_grade,
        greatest(c.contract_grade, p.grade, coalesce(o.grade, 0), coalesce(dp.grade, 0)) as grade,
        greatest(c.contract_grade, p.grade, coalesce(o.grade, 0)) as declared_grade,
        {%- for a in audiences %}
        coalesce(w.o_{{ a }}, p.action_{{ a }}) as p_{{ a }},
        {%- endfor %}
        dp.action_city as d_city, dp.action_owner as d_owner, dp.action_granted as d_granted,
        dp.action_town as d_town, dp.action_village as d_village,
        concat_ws(' | ', nullif(p.why, ''), w.o_why,
                  case when d.detected_class is not null then 'content detection found ' || d.detected_class end
                 ) as why
    from columns c
    join {{ ref('class_policy') }} p on p.class = c.class
    left join {{ ref('grade_overrides') }} o
        on o.dataset = c.dataset and o.column_name = c.column_name
    left join own w on w.dataset = c.dataset and w.column_name = c.column_name
    left join detected d on d.dataset = c.dataset and d.column_name = c.column_name
    left join {{ ref('class_policy') }} dp on dp.class = d.detected_class
),
with_defaults as (
    select g.*,
        coalesce(g.p_city, a.action_city) as b_city,
        coalesce(g.p_owner, a.action_owner) as b_owner,
        coalesce(g.p_granted, a.action_granted) as b_granted,
        coalesce(g.p_town, a.action_town) as b_town,
        coalesce(g.p_village, a.action_village) as b_village
    from graded g
    join {{ ref('grade_actions') }} a on a.grade = g.declared_grade
),
datasets as (
select
    dataset,
    position,
    column_name,
    label,
    class,
    detected_class,
    contract_grade,
    grade,
    {%- for audience in ['city', 'owner', 'granted', 'town', 'village'] %}
    case when column_name = 'division_code' then 'keep'
         else {{ stricter_action('b_' ~ audience, 'd_' ~ audience) }} end as action_{{ audience }},
    {%- endfor %}
    case when column_name = 'division_code' then 'keep'
         else coalesce(p_clear_names, {{ stricter_action('b_granted', 'd_granted') }}) end as action_clear_names,
    why
from with_defaults
),
{#- Ledgers and topics (seeds/derived_columns.csv, generated from ledgers/tags.yaml): a column
    with a source takes that dataset column's grade and actions, one without takes its class's;
    a department audience sees it only where pipelines/derived.py says (`departments`); a tag is
    published where every column it reads is, and its grade is theirs. -#}
derived_base as (
    select
        d.relation as dataset, d.position, d.column_name, d.label, d.class, s.detected_class,
        coalesce(s.contract_grade, d.grade, p.grade) as contract_grade,
        coalesce(s.grade, d.grade, p.grade) as grade,
        {%- for a in audiences %}
        {%- set own = "coalesce(s.action_" ~ a ~ ", p.action_" ~ a ~ ", " ~ ("s.action_granted, p.action_granted, " if a == 'clear_names' else "") ~ "ga.action_" ~ (a if a != 'clear_names' else 'granted') ~ ")" %}
        {%- if a == 'owner' %}
        case when d.departments = 'none' then 'drop' else {{ own }} end as action_{{ a }},
        {%- elif a in ['granted', 'clear_names'] %}
        case when d.departments <> 'owner_and_granted' then 'drop' else {{ own }} end as action_{{ a }},
        {%- else %}
        {{ own }} as action_{{ a }},
        {%- endif %}
        {%- endfor %}
        d.reads,
        case when s.dataset is not null then 'from ' || s.dataset || '.' || s.column_name || ': ' || s.why
             else p.why end as why
    from {{ ref('derived_columns') }} d
    left join datasets s on s.dataset = d.source_dataset and s.column_name = d.source_column
    left join {{ ref('class_policy') }} p on p.class = d.class
    left join {{ ref('grade_actions') }} ga on ga.grade = coalesce(d.grade, p.grade)
),
derived as (
    select
        b.dataset, b.position, b.column_name, b.label, b.class, b.detected_class, b.contract_grade,
        coalesce((select max(r.grade) from derived_base r
                  where r.dataset = b.dataset and r.column_name = any(string_to_array(b.reads, ' '))), b.grade) as grade,
        {%- for a in audiences %}
        case when b.reads is null or b.reads = '' then b.action_{{ a }}
             when exists (select 1 from derived_base r where r.dataset = b.dataset
                          and r.column_name = any(string_to_array(b.reads, ' ')) and r.action_{{ a }} = 'drop')
             then 'drop' else 'keep' end as action_{{ a }},
        {%- endfor %}
        b.why
    from derived_base b
)
select * from datasets
union all
select dataset, position, column_name, label, class, detected_class, contract_grade, grade,
    action_city, action_owner, action_granted, action_town, action_village, action_clear_names, why
from derived
