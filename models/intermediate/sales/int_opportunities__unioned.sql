{#- Live Salesforce opportunities and HubSpot deals in one shape, with customer, owner,
    campaign, funnel step and the first entry into each funnel step. -#}

with

sf_opportunities as (

    select * from {{ ref('stg_salesforce__opportunities') }}
    where not is_deleted

),

hs_deals as (

    select * from {{ ref('stg_hubspot__deals') }}
    where not is_deleted

),

sf_leads as (

    select * from {{ ref('stg_salesforce__leads') }}
    where not is_deleted

),

hs_contacts as (

    select * from {{ ref('stg_hubspot__contacts') }}
    where not is_deleted

),

stage_history as (

    select * from {{ ref('int_opportunities__stage_history') }}

),

funnel as (

    select * from {{ ref('stage_funnel_steps') }}

),

crosswalk as (

    select * from {{ ref('int_identity__crosswalk') }}

),

owners as (

    select * from {{ ref('int_owners') }}

),

touches as (

    select * from {{ ref('int_marketing__touches') }}

),

converted_leads as (

    select
        converted_opportunity_id,
        min(lead_id) as lead_id
    from sf_leads
    where converted_opportunity_id is not null
    group by converted_opportunity_id

),

step_entries as (

    select
        stage_history.opportunity_id,
        min(case when funnel.funnel_step = 'Qualification' then stage_history.entered_at end) as qualified_at,
        min(case when funnel.funnel_step = 'Proposal' then stage_history.entered_at end) as proposal_at,
        min(case when funnel.funnel_step = 'Negotiation' then stage_history.entered_at end) as negotiation_at,
        min(case when funnel.is_closed then stage_history.entered_at end) as closed_at
    from stage_history
    inner join funnel
        on stage_history.source_system = funnel.source_system
            and stage_history.to_stage = funnel.stage_value
    group by stage_history.opportunity_id

),

salesforce as (

    select
        'salesforce:' || sf_opportunities.opportunity_id as opportunity_id,
        'salesforce' as source_system,
        'salesforce:account:' || sf_opportunities.account_id as customer_record_key,
        sf_opportunities.owner_id,
        'salesforce:opportunity:' || sf_opportunities.opportunity_id as touch_key,
        sf_opportunities.opportunity_name,
        sf_opportunities.created_at,
        sf_opportunities.close_date,
        sf_opportunities.is_closed,
        sf_opportunities.is_won,
        sf_opportunities.stage_name as current_stage,
        sf_opportunities.amount,
        sf_opportunities.currency_code,
        sf_opportunities.probability_percent / 100.0 as probability,
        'salesforce:' || converted_leads.lead_id as lead_id
    from sf_opportunities
    left join converted_leads on sf_opportunities.opportunity_id = converted_leads.converted_opportunity_id

),

hubspot as (

    select
        'hubspot:' || hs_deals.deal_id as opportunity_id,
        'hubspot' as source_system,
        coalesce('hubspot:contact:' || hs_deals.contact_id, 'hubspot:company:' || hs_deals.company_id) as customer_record_key,
        hs_deals.owner_id,
        'hubspot:deal:' || hs_deals.deal_id as touch_key,
        hs_deals.deal_name as opportunity_name,
        hs_deals.created_at,
        cast(hs_deals.closed_at as date) as close_date,
        hs_deals.is_closed,
        hs_deals.is_closed_won as is_won,
        hs_deals.deal_stage as current_stage,
        hs_deals.amount,
        hs_deals.currency_code,
        cast(null as double) as probability,
        case when hs_contacts.contact_id is not null then 'hubspot:' || hs_contacts.contact_id end as lead_id
    from hs_deals
    left join hs_contacts on hs_deals.contact_id = hs_contacts.contact_id

),

unioned as (

    select * from salesforce
    union all
    select * from hubspot

),

final as (

    select
        unioned.opportunity_id,
        unioned.source_system,
        coalesce(crosswalk.customer_key, 'unknown') as customer_key,
        coalesce(owners.owner_key, 'unknown') as owner_key,
        coalesce(touches.campaign_key, 'unknown') as campaign_key,
        unioned.opportunity_name,
        unioned.created_at,
        unioned.close_date,
        coalesce(unioned.is_closed, funnel.is_closed, false) as is_closed,
        coalesce(unioned.is_won, funnel.is_won, false) as is_won,
        unioned.current_stage,
        coalesce(funnel.funnel_step, 'unknown') as current_funnel_step,
        unioned.amount,
        coalesce(unioned.currency_code, '{{ var('reporting_currency') }}') as currency_code,
        coalesce(unioned.probability, funnel.probability) as probability,
        step_entries.qualified_at,
        step_entries.proposal_at,
        step_entries.negotiation_at,
        step_entries.closed_at as closed_stage_entered_at,
        unioned.lead_id
    from unioned
    left join crosswalk on unioned.customer_record_key = crosswalk.record_key
    left join owners on unioned.source_system || ':' || unioned.owner_id = owners.owner_key
    left join touches on unioned.touch_key = touches.touch_key
    left join funnel
        on unioned.source_system = funnel.source_system
            and unioned.current_stage = funnel.stage_value
    left join step_entries on unioned.opportunity_id = step_entries.opportunity_id

)

select * from final
