{#- Small SQL pieces whose spelling differs between engines. Models call these instead of an
    engine's own functions, so one model text builds on DuckDB and on Spark. -#}

{#- A sortable composite key from ordered (name, expression) pairs: min_by/max_by over it pick a
    row by several columns in one aggregate pass. A null field sorts after every value. -#}
{% macro sort_key(fields) -%}
    {{ return(adapter.dispatch('sort_key', 'crmwh')(fields)) }}
{%- endmacro %}

{#- The struct encoded once as a byte string that compares as the struct does: min_by/max_by
    then compare bytes instead of encoding the struct again in every aggregate over it. -#}
{% macro default__sort_key(fields) -%}
    create_sort_key(struct_pack(
        {%- for name, expression in fields %}
        {{ name }} := {{ expression }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    ), 'asc nulls last')
{%- endmacro %}

{#- Spark orders a null struct field before every value, so each field is preceded by its
    is-null flag (false < true) to keep nulls last as on DuckDB. -#}
{% macro spark__sort_key(fields) -%}
    named_struct(
        {%- for name, expression in fields %}
        '{{ name }}_is_null', ({{ expression }}) is null,
        '{{ name }}', {{ expression }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    )
{%- endmacro %}

{#- Microseconds since the Unix epoch of a timestamp. -#}
{% macro epoch_microseconds(timestamp_expression) -%}
    {{ return(adapter.dispatch('epoch_microseconds', 'crmwh')(timestamp_expression)) }}
{%- endmacro %}

{% macro default__epoch_microseconds(timestamp_expression) -%}
    epoch_us({{ timestamp_expression }})
{%- endmacro %}

{% macro spark__epoch_microseconds(timestamp_expression) -%}
    unix_micros({{ timestamp_expression }})
{%- endmacro %}

{#- Seconds since the Unix epoch of a timestamp (fractional seconds kept). -#}
{% macro epoch_seconds(timestamp_expression) -%}
    {{ return(adapter.dispatch('epoch_seconds', 'crmwh')(timestamp_expression)) }}
{%- endmacro %}

{% macro default__epoch_seconds(timestamp_expression) -%}
    epoch({{ timestamp_expression }})
{%- endmacro %}

{% macro spark__epoch_seconds(timestamp_expression) -%}
    (unix_micros({{ timestamp_expression }}) / 1000000.0)
{%- endmacro %}

{#- A join clause that turns a delimited string column into one row per item, named
    `alias`.`item_column`. Goes right after the FROM relation. -#}
{% macro join_split_items(string_expression, delimiter, alias, item_column) -%}
    {{ return(adapter.dispatch('join_split_items', 'crmwh')(string_expression, delimiter, alias, item_column)) }}
{%- endmacro %}

{% macro default__join_split_items(string_expression, delimiter, alias, item_column) -%}
    cross join unnest(string_split({{ string_expression }}, '{{ delimiter }}')) as {{ alias }} ({{ item_column }})
{%- endmacro %}

{#- Spark's split takes a regular expression: the delimiter is quoted literally. -#}
{% macro spark__join_split_items(string_expression, delimiter, alias, item_column) -%}
    lateral view explode(split({{ string_expression }}, '\\Q{{ delimiter }}\\E')) {{ alias }} as {{ item_column }}
{%- endmacro %}
