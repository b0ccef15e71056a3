{#- GENERATED from ledgers/tags.yaml by `python -m pipelines.tiers.ledgers`: do not edit.
    Per ledger, its tags as {code, label, grade, columns, sql}: `sql` is the checked predicate
    rendered by sqlglot over the ledger row `l`; `columns` the base columns it reads. -#}

{% macro huiliu_ledger_tags() -%}
{{ return({
    'person_ledger': [
        {'code': 'aged_80_plus', 'label': '高龄', 'grade': 2, 'columns': ['age'], 'sql': '"l"."age" >= 80'},
        {'code': 'aged_60_plus', 'label': '老年', 'grade': 2, 'columns': ['age'], 'sql': '"l"."age" >= 60'},
        {'code': 'living_alone_60_plus', 'label': '独居老人', 'grade': 2, 'columns': ['age', 'household_size'], 'sql': '"l"."age" >= 60 AND "l"."household_size" = 1'},
        {'code': 'disabled', 'label': '残疾', 'grade': 4, 'columns': ['disability_type'], 'sql': '"l"."disability_type" IS NOT NULL'},
        {'code': 'floating', 'label': '流动人口', 'grade': 1, 'columns': ['is_floating'], 'sql': '"l"."is_floating"'},
        {'code': 'deceased', 'label': '已故', 'grade': 4, 'columns': ['died_on'], 'sql': '"l"."died_on" IS NOT NULL'},
        {'code': 'elderly_subsidy', 'label': '享受高龄补贴', 'grade': 1, 'columns': ['latest_subsidy_period', 'state_subsidy_period'], 'sql': '"l"."latest_subsidy_period" = "l"."state_subsidy_period"'},
        {'code': 'pension_insured', 'label': '参保', 'grade': 1, 'columns': ['pension_status'], 'sql': '"l"."pension_status" IN (\'1\', \'2\')'},
        {'code': 'uninsured_16_59', 'label': '未参保', 'grade': 2, 'columns': ['age', 'is_registered', 'pension_status'], 'sql': '"l"."is_registered" AND "l"."age" BETWEEN 16 AND 59 AND NOT COALESCE("l"."pension_status", \'3\') IN (\'1\', \'2\')'},
    ],
    'enterprise_ledger': [
        {'code': 'active', 'label': '存续/在业', 'grade': 1, 'columns': ['status'], 'sql': '"l"."status" IN (\'存续\', \'在业\')'},
        {'code': 'legal_rep_dead', 'label': '法人已故', 'grade': 4, 'columns': ['legal_rep_died_on'], 'sql': '"l"."legal_rep_died_on" IS NOT NULL'},
    ],
}) }}
{%- endmacro %}

{% macro huiliu_derived() -%}
{{ return({
    'person_ledger': {'label': '一人一档', 'kind': 'ledger', 'base': 'household_registration', 'owner': ['household_registration', 'floating_population'], 'granted': ['household_registration']},
    'enterprise_ledger': {'label': '一企一档', 'kind': 'ledger', 'base': 'enterprise_registry', 'owner': ['enterprise_registry'], 'granted': ['enterprise_registry']},
    'population_profile': {'label': '人口专题库', 'kind': 'topic', 'base': 'household_registration', 'owner': ['household_registration', 'floating_population'], 'granted': ['household_registration']},
    'enterprise_profile': {'label': '企业专题库', 'kind': 'topic', 'base': 'enterprise_registry', 'owner': ['enterprise_registry'], 'granted': ['enterprise_registry']},
    'collision_warnings': {'label': '筛查与碰撞预警', 'kind': 'warnings', 'base': 'household_registration', 'owner': ['household_registration', 'floating_population', 'social_insurance', 'enterprise_registry', 'disability_certificates', 'elderly_subsidy', 'death_records'], 'granted': ['household_registration', 'floating_population', 'social_insurance', 'enterprise_registry', 'disability_certificates', 'elderly_subsidy', 'death_records']},
}) }}
{%- endmacro %}
