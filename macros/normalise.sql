{#- Match-key normalisation shared by every identity rule. -#}
{% macro normalise_email(expression) -%}
    nullif(lower(trim({{ expression }})), '')
{%- endmacro %}

{#- Digits of a phone number; shorter than 7 digits is not a usable match key. -#}
{% macro normalise_phone(expression) -%}
    {{ return(adapter.dispatch('normalise_phone', 'crmwh')(expression)) }}
{%- endmacro %}

{% macro default__normalise_phone(expression) -%}
    case
        when length(regexp_replace({{ expression }}, '[^0-9]', '')) >= 7
            then regexp_replace({{ expression }}, '[^0-9]', '')
    end
{%- endmacro %}

{% macro duckdb__normalise_phone(expression) -%}
    case
        when length(regexp_replace({{ expression }}, '[^0-9]', '', 'g')) >= 7
            then regexp_replace({{ expression }}, '[^0-9]', '', 'g')
    end
{%- endmacro %}

{#- Web site or domain to a bare host name: no scheme, no www., no path, no port. -#}
{% macro normalise_domain(expression) -%}
    nullif(
        {{ dbt.split_part(dbt.split_part("regexp_replace(lower(trim(" ~ expression ~ ")), '^([a-z]+://)?(www[.])?', '')", "'/'", 1), "':'", 1) }},
        ''
    )
{%- endmacro %}

{#- '<source>:<id>' keys of facts and dimensions. -#}
{% macro source_key(source_system, id_expression) -%}
    case
        when {{ id_expression }} is not null
            then {{ dbt.concat(["'" ~ source_system ~ ":'", "cast(" ~ id_expression ~ " as " ~ dbt.type_string() ~ ")"]) }}
    end
{%- endmacro %}

{#- Record keys of the people behind billing orders and contact-center messages; the same
    expression builds the identity records and resolves the facts. -#}
{% macro billing_customer_record_key(customer_id, email, phone, order_id) -%}
    'billing:customer:' || coalesce({{ customer_id }}, {{ normalise_email(email) }}, {{ normalise_phone(phone) }}, 'order-' || {{ order_id }})
{%- endmacro %}

{% macro message_customer_record_key(email, phone, handle, thread_id) -%}
    'contact_center:customer:' || coalesce({{ normalise_email(email) }}, {{ normalise_phone(phone) }}, lower(trim({{ handle }})), 'thread-' || {{ thread_id }})
{%- endmacro %}
