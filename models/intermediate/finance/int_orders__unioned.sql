{#- Revenue events: billing orders (cancelled/failed/void excluded, refunds negative) and won
    Salesforce opportunities / HubSpot deals (ordered when closed). -#}

with

orders as (

    select * from {{ ref('stg_billing__orders') }}
    where not is_deleted

),

opportunities as (

    select * from {{ ref('int_opportunities__unioned') }}
    where is_won

),

crosswalk as (

    select * from {{ ref('int_identity__crosswalk') }}

),

billing as (

    select
        'billing:' || orders.order_id as order_id,
        'billing' as source_system,
        'order' as order_type,
        coalesce(crosswalk.customer_key, 'unknown') as customer_key,
        orders.ordered_at,
        lower(orders.status) in ('refunded', 'refund', 'returned') as is_refund,
        case
            when lower(orders.status) in ('refunded', 'refund', 'returned') then -1 * abs(orders.amount)
            else orders.amount
        end as amount,
        case
            when lower(orders.status) in ('refunded', 'refund', 'returned') then -1 * abs(orders.amount - orders.cost)
            else orders.amount - orders.cost
        end as margin,
        orders.currency_code
    from orders
    left join crosswalk
        on {{ billing_customer_record_key('orders.customer_id', 'orders.customer_email', 'orders.customer_phone', 'orders.order_id') }} = crosswalk.record_key
    where lower(coalesce(orders.status, '')) not in ('cancelled', 'canceled', 'failed', 'void', 'voided')

),

won_deals as (

    select
        opportunity_id as order_id,
        source_system,
        'won_deal' as order_type,
        customer_key,
        coalesce(cast(close_date as timestamp), closed_stage_entered_at, created_at) as ordered_at,
        false as is_refund,
        amount,
        cast(null as decimal(18, 2)) as margin,
        currency_code
    from opportunities
    where amount is not null

),

final as (

    select * from billing
    union all
    select * from won_deals

)

select * from final
