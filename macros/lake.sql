{#- How a staging model reads a landed lake object. Sources carry the dbt-duckdb
    `external_location` (a read_parquet over the object's directory, union_by_name because
    drift columns differ between files); another engine reads the same directory its own way.
    Both variants call source() so lineage and freshness stay on the source. -#}
{% macro lake_source(source_name, object_name) -%}
    {{ return(adapter.dispatch('lake_source', 'crmwh')(source_name, object_name)) }}
{%- endmacro %}

{% macro default__lake_source(source_name, object_name) -%}
    {%- set relation = source(source_name, object_name) -%}
    parquet.`{{ var('lake_dir') }}/{{ source_name }}/{{ object_name }}`
{%- endmacro %}

{% macro duckdb__lake_source(source_name, object_name) -%}
    {{ source(source_name, object_name) }}
{%- endmacro %}
