{#- Model contracts are declared once, in DuckDB/ANSI type names (varchar). dbt checks a contract
    by casting null to each declared type on the engine and comparing the resulting schema with the
    model's, so on Spark the declared names are translated first; the comparison itself stays
    dbt's, in Spark's own types. -#}
{% macro spark__get_empty_schema_sql(columns) %}
    {%- set missing = [] -%}
    select
    {% for name in columns %}
        {%- set column = columns[name] -%}
        {%- if column['data_type'] is not defined -%}
            {%- do missing.append(column['name']) -%}
        {%- endif -%}
        {%- set column_name = adapter.quote(column['name']) if column.get('quote') else column['name'] -%}
        cast(null as {{ spark_type_name(column.get('data_type', '')) }}) as {{ column_name }}{{ ", " if not loop.last }}
    {%- endfor -%}
    {%- if missing | length > 0 -%}
        {{ exceptions.column_type_missing(column_names=missing) }}
    {%- endif -%}
{% endmacro %}

{#- A DuckDB/ANSI type name as Spark spells it: Spark has no unbounded varchar or text. -#}
{% macro spark_type_name(type_name) -%}
    {{- return('string' if type_name | trim | lower in ('varchar', 'text') else type_name) -}}
{%- endmacro %}
