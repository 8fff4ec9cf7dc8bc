{#- Monthly rates of every currency to the reporting currency (var reporting_currency):
    amount_reporting = amount * to_reporting_rate, taken from the month of the amount's date. -#}

with

rates as (

    select * from {{ ref('currency_rates') }}

),

reporting as (

    select
        rate_date,
        rate_to_usd as reporting_rate_to_usd
    from rates
    where currency_code = '{{ var('reporting_currency') }}'

),

final as (

    select
        cast({{ dbt.date_trunc('month', 'rates.rate_date') }} as date) as rate_month,
        rates.currency_code,
        rates.rate_to_usd / reporting.reporting_rate_to_usd as to_reporting_rate
    from rates
    inner join reporting on rates.rate_date = reporting.rate_date

)

select * from final
