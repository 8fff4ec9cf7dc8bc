{#- Stage entries of every live opportunity/deal: Salesforce OpportunityHistory and HubSpot
    deal stage history. Consecutive rows in the same stage (history rows written for amount or
    date changes) collapse into one entry; an opportunity without history gets one entry in its
    current stage at its creation. -#}

with

sf_opportunities as (

    select * from {{ ref('stg_salesforce__opportunities') }}
    where not is_deleted

),

sf_history as (

    select * from {{ ref('stg_salesforce__opportunity_history') }}
    where not is_deleted

),

hs_deals as (

    select * from {{ ref('stg_hubspot__deals') }}
    where not is_deleted

),

hs_stages as (

    select * from {{ ref('stg_hubspot__deal_stages') }}

),

entries as (

    select
        'salesforce:' || sf_history.opportunity_id as opportunity_id,
        'salesforce' as source_system,
        sf_history.stage_name as stage_value,
        sf_history.created_at as entered_at,
        sf_history.opportunity_history_id as tie_breaker
    from sf_history
    inner join sf_opportunities on sf_history.opportunity_id = sf_opportunities.opportunity_id

    union all

    select
        'salesforce:' || sf_opportunities.opportunity_id as opportunity_id,
        'salesforce' as source_system,
        sf_opportunities.stage_name as stage_value,
        sf_opportunities.created_at as entered_at,
        '' as tie_breaker
    from sf_opportunities
    where sf_opportunities.opportunity_id not in (select opportunity_id from sf_history)

    union all

    select
        'hubspot:' || hs_stages.deal_id as opportunity_id,
        'hubspot' as source_system,
        hs_stages.deal_stage as stage_value,
        hs_stages.entered_at,
        hs_stages.deal_stage_id as tie_breaker
    from hs_stages
    inner join hs_deals on hs_stages.deal_id = hs_deals.deal_id

    union all

    select
        'hubspot:' || hs_deals.deal_id as opportunity_id,
        'hubspot' as source_system,
        hs_deals.deal_stage as stage_value,
        hs_deals.created_at as entered_at,
        '' as tie_breaker
    from hs_deals
    where hs_deals.deal_id not in (select deal_id from hs_stages)
        and hs_deals.deal_stage is not null

),

with_previous as (

    select
        *,
        lag(stage_value) over (partition by opportunity_id order by entered_at, tie_breaker) as previous_stage_value
    from entries

),

final as (

    select
        opportunity_id,
        source_system,
        previous_stage_value as from_stage,
        stage_value as to_stage,
        entered_at,
        row_number() over (partition by opportunity_id order by entered_at, tie_breaker) as stage_sequence
    from with_previous
    where previous_stage_value is null
        or previous_stage_value <> stage_value

)

select * from final
