{#- Convert a naive local wall-clock timestamp in `tz` to naive UTC. -#}
{% macro local_to_utc(timestamp_expression, tz) -%}
    {{ return(adapter.dispatch('local_to_utc', 'crmwh')(timestamp_expression, tz)) }}
{%- endmacro %}

{% macro default__local_to_utc(timestamp_expression, tz) -%}
    to_utc_timestamp({{ timestamp_expression }}, '{{ tz }}')
{%- endmacro %}

{% macro duckdb__local_to_utc(timestamp_expression, tz) -%}
    cast(timezone('UTC', timezone('{{ tz }}', {{ timestamp_expression }})) as timestamp)
{%- endmacro %}

{#- 'HH:MM' to minutes after midnight, resolved at compile time. -#}
{% macro minutes_of_day(hh_mm) -%}
    {%- set parts = hh_mm.split(':') -%}
    {{ parts[0] | int * 60 + parts[1] | int }}
{%- endmacro %}

{#- ISO day of week: 1 = Monday .. 7 = Sunday. -#}
{% macro day_of_week_iso(date_expression) -%}
    {{ return(adapter.dispatch('day_of_week_iso', 'crmwh')(date_expression)) }}
{%- endmacro %}

{% macro default__day_of_week_iso(date_expression) -%}
    cast(((dayofweek({{ date_expression }}) + 5) % 7) + 1 as integer)
{%- endmacro %}

{% macro duckdb__day_of_week_iso(date_expression) -%}
    cast(isodow({{ date_expression }}) as integer)
{%- endmacro %}
