{#- One row per customer and month from the acquisition month to the as-of month
    (var as_of_date, default the latest order or interaction date): later months do not exist,
    so censoring is by absence. The previous month's activity and the first month's revenue
    come from keyed joins, not windows: a window over every customer month sorts the whole
    table (the slowest step of the model at scale). -#}

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

first_month as (

    select min(month_start_date) as first_month_start_date
    from months

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

active_next_months as (

    {#- Each active month marks the month after it, so the spine learns whether its previous
        month was active from the same join that brings its own activity. -#}
    select
        customer_key,
        cast({{ dbt.dateadd('month', 1, 'month_start_date') }} as date) as month_start_date
    from monthly_orders
    where order_count > 0

),

monthly_activity as (

    select
        customer_key,
        month_start_date,
        sum(revenue_reporting) as revenue_reporting,
        sum(order_count) as order_count,
        sum(interaction_count) as interaction_count,
        max(previous_month_active) = 1 as was_previous_month_active
    from (
        select
            customer_key,
            month_start_date,
            coalesce(revenue_reporting, 0) as revenue_reporting,
            order_count,
            0 as interaction_count,
            0 as previous_month_active
        from monthly_orders
        union all
        select
            customer_key,
            month_start_date,
            0 as revenue_reporting,
            0 as order_count,
            interaction_count,
            0 as previous_month_active
        from monthly_interactions
        union all
        select
            customer_key,
            month_start_date,
            0 as revenue_reporting,
            0 as order_count,
            0 as interaction_count,
            1 as previous_month_active
        from active_next_months
    ) as monthly_facts
    group by 1, 2

),

cohorts as (

    {#- The cohort month's revenue counts only when that month is one of the customer's months:
        a cohort before the calendar's first month has no cohort-month row (first-month revenue 0). -#}
    select
        customers.customer_key,
        cast({{ dbt.date_trunc('month', 'customers.acquisition_date') }} as date) as cohort_month,
        case
            when cast({{ dbt.date_trunc('month', 'customers.acquisition_date') }} as date) >= first_month.first_month_start_date
                then coalesce(monthly_orders.revenue_reporting, 0)
            else 0
        end as first_month_revenue_reporting
    from customers
    cross join first_month
    left join monthly_orders
        on customers.customer_key = monthly_orders.customer_key
            and cast({{ dbt.date_trunc('month', 'customers.acquisition_date') }} as date) = monthly_orders.month_start_date

),

customer_month_spine as (

    {#- The calendar's months are consecutive, so a month's previous month is one of the customer's
        months unless it is the cohort month or the calendar's first month (a cohort before the
        calendar starts there). -#}
    select
        cohorts.customer_key,
        cohorts.cohort_month,
        cohorts.first_month_revenue_reporting,
        months.month_start_date,
        months.month_start_date > cohorts.cohort_month
        and months.month_start_date > first_month.first_month_start_date as has_previous_month
    from cohorts
    cross join as_of
    cross join first_month
    inner join months
        on months.month_start_date >= cohorts.cohort_month
            and months.month_start_date <= cast({{ dbt.date_trunc('month', 'as_of.as_of_date') }} as date)

),

activity as (

    select
        spine.customer_key,
        spine.month_start_date,
        spine.cohort_month,
        spine.first_month_revenue_reporting,
        coalesce(monthly_activity.revenue_reporting, 0) as revenue_reporting,
        coalesce(monthly_activity.order_count, 0) as order_count,
        coalesce(monthly_activity.interaction_count, 0) as interaction_count,
        coalesce(monthly_activity.order_count, 0) > 0 as is_active,
        spine.has_previous_month and coalesce(monthly_activity.was_previous_month_active, false) as was_active_previous_month
    from customer_month_spine as spine
    left join monthly_activity
        on spine.customer_key = monthly_activity.customer_key
            and spine.month_start_date = monthly_activity.month_start_date

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
    from activity

)

select * from final
