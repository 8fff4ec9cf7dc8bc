{#- Salesforce cases and HubSpot tickets in one shape. The first response falls back to
    the first outbound interaction linked to the case when the source has no first-response
    field. -#}

with

sf_cases as (

    select * from {{ ref('stg_salesforce__cases') }}
    where not is_deleted

),

hs_tickets as (

    select * from {{ ref('stg_hubspot__tickets') }}
    where not is_deleted

),

crosswalk as (

    select * from {{ ref('int_identity__crosswalk') }}

),

channel_values as (

    select * from {{ ref('int_channels__source_values') }}

),

owners as (

    select * from {{ ref('int_owners') }}

),

interactions as (

    select * from {{ ref('int_interactions__unioned') }}

),

first_outbound as (

    select
        case_id,
        min(occurred_at) as first_outbound_at
    from interactions
    where direction = 'outbound'
        and case_id is not null
    group by case_id

),

salesforce_cases as (

    select
        'salesforce:' || case_id as case_id,
        'salesforce' as source_system,
        'salesforce:contact:' || contact_id as person_record_key,
        'salesforce:account:' || account_id as company_record_key,
        owner_id,
        'case_origin' as channel_field,
        lower(trim(origin)) as channel_value,
        created_at as opened_at,
        first_response_at,
        case when coalesce(is_closed, closed_at is not null) then closed_at end as resolved_at,
        coalesce(is_escalated, false) as is_escalated,
        coalesce(reopen_count, 0) as reopen_count,
        case when satisfaction_score between 1 and 5 then satisfaction_score end as satisfaction_score,
        priority,
        status
    from sf_cases

),

hubspot_tickets as (

    select
        'hubspot:' || ticket_id as case_id,
        'hubspot' as source_system,
        'hubspot:contact:' || contact_id as person_record_key,
        cast(null as {{ dbt.type_string() }}) as company_record_key,
        owner_id,
        'ticket_source_type' as channel_field,
        lower(trim(source_type)) as channel_value,
        created_at as opened_at,
        first_agent_reply_at as first_response_at,
        closed_at as resolved_at,
        coalesce(is_escalated, false) as is_escalated,
        coalesce(reopen_count, 0) as reopen_count,
        case when satisfaction_score between 1 and 5 then satisfaction_score end as satisfaction_score,
        lower(priority) as priority,
        pipeline_stage as status
    from hs_tickets

),

unioned as (

    select * from salesforce_cases
    union all
    select * from hubspot_tickets

),

final as (

    select
        unioned.case_id,
        unioned.source_system,
        coalesce(person.customer_key, company.customer_key, 'unknown') as customer_key,
        coalesce(channel_values.channel_name, 'unknown') as channel_key,
        coalesce(owners.owner_key, 'unknown') as owner_key,
        unioned.opened_at,
        coalesce(unioned.first_response_at, first_outbound.first_outbound_at) as first_response_at,
        unioned.resolved_at,
        unioned.is_escalated,
        unioned.reopen_count,
        unioned.satisfaction_score,
        unioned.priority,
        unioned.status
    from unioned
    left join crosswalk as person on unioned.person_record_key = person.record_key
    left join crosswalk as company on unioned.company_record_key = company.record_key
    left join channel_values
        on unioned.source_system = channel_values.source_system
            and unioned.channel_field = channel_values.source_field
            and unioned.channel_value = channel_values.source_value
    left join owners on unioned.source_system || ':' || unioned.owner_id = owners.owner_key
    left join first_outbound on unioned.case_id = first_outbound.case_id

)

select * from final
