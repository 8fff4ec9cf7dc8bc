{#- Convert an amount to the reporting currency at the month's rate. `rates_alias` is a
    join of int_currency_rates for the amount's currency (from_rate) and the reporting
    currency (to_rate) on the month of the amount's date. -#}
{% macro to_reporting_currency(amount, from_rate, to_rate) -%}
    cast({{ amount }} * {{ from_rate }} / {{ to_rate }} as decimal(18, 2))
{%- endmacro %}
