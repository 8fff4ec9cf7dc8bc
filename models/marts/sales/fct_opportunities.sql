with

opportunities as (

    select * from {{ ref('int_opportunities__unioned') }}

),

rates as (

    select * from {{ ref('int_currency_rates') }}

),

dated as (

    select
        *,
        case
            when is_closed then cast(coalesce(close_date, cast(closed_stage_entered_at as date)) as date)
        end as closed_date
    from opportunities

),

converted as (

    select
        dated.*,
        {{ to_reporting_currency('dated.amount', 'rates.to_reporting_rate', '1') }} as amount_reporting,
        case
            when dated.is_won then 1.0
            when dated.is_closed then 0.0
            else dated.probability
        end as effective_probability
    from dated
    left join rates
        on dated.currency_code = rates.currency_code
            and cast({{ dbt.date_trunc('month', 'coalesce(dated.closed_date, dated.close_date, cast(dated.created_at as date))') }} as date) = rates.rate_month

),

final as (

    select
        cast(opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(customer_key as {{ dbt.type_string() }}) as customer_key,
        cast(owner_key as {{ dbt.type_string() }}) as owner_key,
        cast(campaign_key as {{ dbt.type_string() }}) as campaign_key,
        cast(opportunity_name as {{ dbt.type_string() }}) as opportunity_name,
        cast(created_at as timestamp) as created_at,
        cast(created_at as date) as created_date,
        cast(close_date as date) as close_date,
        cast(closed_date as date) as closed_date,
        cast(is_closed as boolean) as is_closed,
        cast(is_won as boolean) as is_won,
        cast(is_closed and not is_won as boolean) as is_lost,
        cast(current_stage as {{ dbt.type_string() }}) as current_stage,
        cast(current_funnel_step as {{ dbt.type_string() }}) as current_funnel_step,
        cast(amount as decimal(18, 2)) as amount,
        cast(currency_code as {{ dbt.type_string() }}) as currency_code,
        cast(amount_reporting as decimal(18, 2)) as amount_reporting,
        cast(effective_probability as double) as probability,
        cast(amount_reporting * effective_probability as decimal(18, 2)) as weighted_amount_reporting,
        cast(case when is_closed then {{ dbt.datediff('cast(created_at as date)', 'closed_date', 'day') }} end as integer) as days_to_close,
        cast(qualified_at as timestamp) as qualified_at,
        cast(proposal_at as timestamp) as proposal_at,
        cast(negotiation_at as timestamp) as negotiation_at,
        cast(lead_id as {{ dbt.type_string() }}) as lead_id
    from converted

)

select * from final
