{#- The lead source and campaign each lead, contact, opportunity and deal names, normalised
    through the lead_source_mapping seed. Unmapped values become 'Other' (kept, never dropped);
    records without a source are 'unknown'. campaign_key identifies (lead source, campaign). -#}

with

mapping as (

    select * from {{ ref('lead_source_mapping') }}

),

raw_touches as (

    select
        'salesforce:lead:' || lead_id as touch_key,
        'salesforce' as source_system,
        lead_source as source_value,
        campaign_name
    from {{ ref('stg_salesforce__leads') }}
    union all
    select
        'salesforce:opportunity:' || opportunity_id as touch_key,
        'salesforce' as source_system,
        lead_source as source_value,
        campaign_id as campaign_name
    from {{ ref('stg_salesforce__opportunities') }}
    union all
    select
        'hubspot:contact:' || contact_id as touch_key,
        'hubspot' as source_system,
        analytics_source as source_value,
        analytics_source_detail as campaign_name
    from {{ ref('stg_hubspot__contacts') }}
    union all
    select
        'hubspot:deal:' || deal_id as touch_key,
        'hubspot' as source_system,
        analytics_source as source_value,
        cast(null as {{ dbt.type_string() }}) as campaign_name
    from {{ ref('stg_hubspot__deals') }}

),

normalised as (

    select
        raw_touches.touch_key,
        raw_touches.source_system,
        raw_touches.source_value,
        nullif(trim(raw_touches.campaign_name), '') as campaign_name,
        case
            when mapping.lead_source is not null then mapping.lead_source
            when raw_touches.source_value is not null then 'Other'
            else 'unknown'
        end as lead_source,
        coalesce(mapping.source_group, 'Other') as source_group
    from raw_touches
    left join mapping
        on raw_touches.source_system = mapping.source_system
            and raw_touches.source_value = mapping.source_value

),

final as (

    select
        touch_key,
        source_system,
        source_value,
        lead_source,
        campaign_name,
        source_group,
        case
            when lead_source = 'unknown' and campaign_name is null then 'unknown'
            else lower(lead_source) || '|' || coalesce(campaign_name, '(none)')
        end as campaign_key
    from normalised

)

select * from final
