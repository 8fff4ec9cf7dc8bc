{#- Every channel-naming value the sources use, with the channel it maps to. Values missing
    from the channel_source_mapping seed map to 'unknown' (never dropped) and are listed by
    the test assert_channel_values_mapped. -#}

with

mapping as (

    select * from {{ ref('channel_source_mapping') }}

),

observed as (

    select
        'salesforce' as source_system,
        case when task_subtype is not null then 'task_subtype' else 'task_type' end as source_field,
        lower(trim(coalesce(task_subtype, task_type, 'task'))) as source_value
    from {{ ref('stg_salesforce__tasks') }}
    union
    select
        'salesforce' as source_system,
        'event_type' as source_field,
        lower(trim(coalesce(event_type, 'meeting'))) as source_value
    from {{ ref('stg_salesforce__events') }}
    union
    select
        'hubspot' as source_system,
        'engagement_type' as source_field,
        lower(trim(engagement_type)) as source_value
    from {{ ref('stg_hubspot__engagements') }}
    union
    select
        'contact_center' as source_system,
        'channel' as source_field,
        lower(trim(channel)) as source_value
    from {{ ref('stg_contact_center__messages') }}
    union
    select
        'salesforce' as source_system,
        'case_origin' as source_field,
        lower(trim(origin)) as source_value
    from {{ ref('stg_salesforce__cases') }}
    where origin is not null
    union
    select
        'hubspot' as source_system,
        'ticket_source_type' as source_field,
        lower(trim(source_type)) as source_value
    from {{ ref('stg_hubspot__tickets') }}
    where source_type is not null

),

final as (

    select
        observed.source_system,
        observed.source_field,
        observed.source_value,
        coalesce(mapping.channel_name, 'unknown') as channel_name,
        mapping.channel_name is null as is_unmapped
    from observed
    left join mapping
        on observed.source_system = mapping.source_system
            and observed.source_field = mapping.source_field
            and observed.source_value = mapping.source_value

)

select * from final
