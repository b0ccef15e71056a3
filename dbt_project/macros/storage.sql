{#- Tables every run rebuilds from raw (staging, intermediate, protected, ledgers, tiers) are
    written once and read a few times within the same run: autovacuum's VACUUM and ANALYZE of
    each fresh table (every page written again, seconds per large table) only competed with the
    run for the machine's cores. Turned off as the table is created, inside its transaction, so
    autovacuum never picks it up; the publish ANALYZEs what units will read (publish/build.py). -#}
{% macro no_autovacuum() -%}
alter table {{ this }} set (autovacuum_enabled = false, toast.autovacuum_enabled = false)
{%- endmacro %}
