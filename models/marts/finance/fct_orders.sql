{{
    config(
        materialized=incremental_materialization(),
        unique_key='order_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook="{{ delete_vanished_keys('order_id', ref('int_orders__unioned')) }}",
    )
}}

with

orders as (

    select * from {{ ref('int_orders__unioned') }}

),

rates as (

    select * from {{ ref('int_currency_rates') }}

),

final as (

    select
        cast(orders.order_id as {{ dbt.type_string() }}) as order_id,
        cast(orders.source_system as {{ dbt.type_string() }}) as source_system,
        cast(orders.order_type as {{ dbt.type_string() }}) as order_type,
        cast(orders.customer_key as {{ dbt.type_string() }}) as customer_key,
        cast(orders.ordered_at as timestamp) as ordered_at,
        cast(orders.ordered_at as date) as order_date,
        cast(orders.amount as decimal(18, 2)) as amount,
        cast(orders.currency_code as {{ dbt.type_string() }}) as currency_code,
        {{ to_reporting_currency('orders.amount', 'rates.to_reporting_rate', '1') }} as amount_reporting,
        {{ to_reporting_currency('orders.margin', 'rates.to_reporting_rate', '1') }} as margin_reporting,
        cast(orders.is_refund as boolean) as is_refund
    from orders
    left join rates
        on orders.currency_code = rates.currency_code
            and cast({{ dbt.date_trunc('month', 'orders.ordered_at') }} as date) = rates.rate_month

),

changed as (

    {{ rows_changed_since_last_build('final') }}

)

select * from changed
