{#- One row per customer and month from the acquisition month to the as-of month
    (var as_of_date, default the latest order or interaction date): later months do not exist,
    so censoring is by absence. -#}

with

customers as (

    select * from {{ ref('int_customers__resolved') }}
    where acquisition_date is not null

),

orders as (

    select * from {{ ref('int_orders__unioned') }}

),

interactions as (

    select * from {{ ref('int_interactions__unioned') }}

),

rates as (

    select * from {{ ref('int_currency_rates') }}

),

days as (

    select * from {{ ref('int_calendar__days') }}

),

as_of as (

    {%- if var('as_of_date') %}
    select cast('{{ var('as_of_date') }}' as date) as as_of_date
    {%- else %}
        select max(data_date) as as_of_date
        from (
            select cast(max(ordered_at) as date) as data_date from orders
            union all
            select max(occurred_date) as data_date from interactions
        ) as data_dates
    {%- endif %}

),

months as (

    select date_day as month_start_date
    from days
    where extract(day from date_day) = 1

),

customer_month_spine as (

    select
        customers.customer_key,
        cast({{ dbt.date_trunc('month', 'customers.acquisition_date') }} as date) as cohort_month,
        months.month_start_date
    from customers
    cross join as_of
    inner join months
        on months.month_start_date >= cast({{ dbt.date_trunc('month', 'customers.acquisition_date') }} as date)
            and months.month_start_date <= cast({{ dbt.date_trunc('month', 'as_of.as_of_date') }} as date)

),

monthly_orders as (

    select
        orders.customer_key,
        cast({{ dbt.date_trunc('month', 'orders.ordered_at') }} as date) as month_start_date,
        sum({{ to_reporting_currency('orders.amount', 'rates.to_reporting_rate', '1') }}) as revenue_reporting,
        sum(case when orders.is_refund then 0 else 1 end) as order_count
    from orders
    cross join as_of
    left join rates
        on orders.currency_code = rates.currency_code
            and cast({{ dbt.date_trunc('month', 'orders.ordered_at') }} as date) = rates.rate_month
    where cast(orders.ordered_at as date) <= as_of.as_of_date
    group by 1, 2

),

monthly_interactions as (

    select
        customer_key,
        cast({{ dbt.date_trunc('month', 'occurred_date') }} as date) as month_start_date,
        count(*) as interaction_count
    from interactions
    group by 1, 2

),

activity as (

    select
        spine.customer_key,
        spine.month_start_date,
        spine.cohort_month,
        coalesce(monthly_orders.revenue_reporting, 0) as revenue_reporting,
        coalesce(monthly_orders.order_count, 0) as order_count,
        coalesce(monthly_interactions.interaction_count, 0) as interaction_count,
        coalesce(monthly_orders.order_count, 0) > 0 as is_active
    from customer_month_spine as spine
    left join monthly_orders
        on spine.customer_key = monthly_orders.customer_key
            and spine.month_start_date = monthly_orders.month_start_date
    left join monthly_interactions
        on spine.customer_key = monthly_interactions.customer_key
            and spine.month_start_date = monthly_interactions.month_start_date

),

with_previous as (

    select
        *,
        coalesce(lag(is_active) over (partition by customer_key order by month_start_date), false) as was_active_previous_month,
        sum(case when month_start_date = cohort_month then revenue_reporting else 0 end) over (partition by customer_key) as first_month_revenue_reporting
    from activity

),

final as (

    select
        cast(customer_key as {{ dbt.type_string() }}) as customer_key,
        cast(month_start_date as date) as month_start_date,
        cast(cohort_month as date) as cohort_month,
        cast({{ dbt.datediff('cohort_month', 'month_start_date', 'month') }} as integer) as months_since_acquisition,
        cast(is_active as boolean) as is_active,
        cast(revenue_reporting as decimal(18, 2)) as revenue_reporting,
        cast(order_count as integer) as order_count,
        cast(interaction_count as integer) as interaction_count,
        cast(was_active_previous_month as boolean) as was_active_previous_month,
        was_active_previous_month and not is_active as is_churned,
        cast(first_month_revenue_reporting as decimal(18, 2)) as first_month_revenue_reporting
    from with_previous

)

select * from final
