{#- Leads: Salesforce leads and HubSpot contacts. A HubSpot contact counts as converted when
    its lifecycle stage reached opportunity/customer/evangelist or it has a deal; its
    conversion date is its first deal's creation. -#}

with

sf_leads as (

    select * from {{ ref('stg_salesforce__leads') }}
    where not is_deleted

),

hs_contacts as (

    select * from {{ ref('stg_hubspot__contacts') }}
    where not is_deleted

),

hs_deals as (

    select * from {{ ref('stg_hubspot__deals') }}
    where not is_deleted

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

first_deals as (

    select
        contact_id,
        deal_id,
        created_at
    from (
        select
            contact_id,
            deal_id,
            created_at,
            row_number() over (partition by contact_id order by created_at, deal_id) as deal_rank
        from hs_deals
        where contact_id is not null
    ) as ranked
    where deal_rank = 1

),

salesforce as (

    select
        'salesforce:' || lead_id as lead_id,
        'salesforce' as source_system,
        'salesforce:lead:' || lead_id as record_key,
        owner_id,
        created_at,
        coalesce(is_converted, false) as is_converted,
        converted_date,
        'salesforce:' || converted_opportunity_id as converted_opportunity_id,
        status
    from sf_leads

),

hubspot as (

    select
        'hubspot:' || hs_contacts.contact_id as lead_id,
        'hubspot' as source_system,
        'hubspot:contact:' || hs_contacts.contact_id as record_key,
        hs_contacts.owner_id,
        hs_contacts.created_at,
        lower(hs_contacts.lifecycle_stage) in ('opportunity', 'customer', 'evangelist')
        or first_deals.deal_id is not null as is_converted,
        cast(first_deals.created_at as date) as converted_date,
        'hubspot:' || first_deals.deal_id as converted_opportunity_id,
        coalesce(hs_contacts.lead_status, hs_contacts.lifecycle_stage) as status
    from hs_contacts
    left join first_deals on hs_contacts.contact_id = first_deals.contact_id

),

unioned as (

    select * from salesforce
    union all
    select * from hubspot

),

final as (

    select
        unioned.lead_id,
        unioned.source_system,
        coalesce(crosswalk.customer_key, 'unknown') as customer_key,
        coalesce(owners.owner_key, 'unknown') as owner_key,
        coalesce(touches.campaign_key, 'unknown') as campaign_key,
        unioned.created_at,
        unioned.is_converted,
        case when unioned.is_converted then unioned.converted_date end as converted_date,
        unioned.converted_opportunity_id,
        unioned.status
    from unioned
    left join crosswalk on unioned.record_key = crosswalk.record_key
    left join owners on unioned.source_system || ':' || unioned.owner_id = owners.owner_key
    left join touches on unioned.record_key = touches.touch_key

)

select * from final
