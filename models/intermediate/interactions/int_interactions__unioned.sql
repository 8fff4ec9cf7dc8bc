{#- Every live (not deleted) interaction of every source that has happened, in one shape,
    resolved to its customer, channel and owner. Happened: a Salesforce task is completed
    (status 'Completed' or a completion time), and every interaction occurred at or before the
    build's as-of instant (int_calendar__as_of); planned meetings, open tasks and scheduled
    emails are left out until they occur. A row without any time is kept (never silently
    dropped). Threads: contact-center messages carry a thread id; other interactions form one
    thread per customer and channel. -#}

with

tasks as (

    select * from {{ ref('stg_salesforce__tasks') }}
    where not is_deleted
        and (lower(status) = 'completed' or completed_at is not null)

),

events as (

    select * from {{ ref('stg_salesforce__events') }}
    where not is_deleted

),

engagements as (

    select * from {{ ref('stg_hubspot__engagements') }}
    where not is_deleted

),

messages as (

    select * from {{ ref('stg_contact_center__messages') }}
    where not is_deleted

),

crosswalk as (

    select * from {{ ref('int_identity__crosswalk') }}

),

person_crosswalk as (

    {#- Each crosswalk join reads only the records whose keys can equal its probe keys (the same
        '<system>:<object>:' prefixes as the keys built below and in message_customer_record_key).
        The three hash tables then hold 2.3M rows instead of 3 x 3.2M at large: under a 1.5 GB cap the
        model took 11.7 s instead of 17.3 s, and under 1 GB it ran (10.6 s) instead of failing out of
        memory. -#}
    select
        record_key,
        customer_key
    from crosswalk
    where record_key like 'salesforce:contact:%'
        or record_key like 'hubspot:contact:%'
        or record_key like 'contact_center:customer:%'

),

lead_crosswalk as (

    select
        record_key,
        customer_key
    from crosswalk
    where record_key like 'salesforce:lead:%'

),

company_crosswalk as (

    select
        record_key,
        customer_key
    from crosswalk
    where record_key like 'salesforce:account:%'
        or record_key like 'hubspot:company:%'

),

channel_values as (

    select * from {{ ref('int_channels__source_values') }}

),

owners as (

    select * from {{ ref('int_owners') }}

),

as_of as (

    select as_of_at from {{ ref('int_calendar__as_of') }}

),

sf_cases as (

    select case_id from {{ ref('stg_salesforce__cases') }}

),

hs_tickets as (

    select ticket_id from {{ ref('stg_hubspot__tickets') }}

),

salesforce_tasks as (

    select
        'salesforce:' || task_id as interaction_id,
        'salesforce' as source_system,
        'salesforce:contact:' || who_id as person_record_key,
        'salesforce:lead:' || who_id as alternative_record_key,
        'salesforce:account:' || account_id as company_record_key,
        owner_id,
        case when lower(call_type) = 'inbound' then 'inbound' else 'outbound' end as direction,
        case
            when lower(coalesce(task_subtype, task_type)) = 'call' then 'call'
            when lower(coalesce(task_subtype, task_type)) in ('email', 'listemail', 'list email') then 'email'
            else 'task'
        end as interaction_type,
        case when task_subtype is not null then 'task_subtype' else 'task_type' end as channel_field,
        lower(trim(coalesce(task_subtype, task_type, 'task'))) as channel_value,
        coalesce(completed_at, cast(activity_date as timestamp), created_at) as occurred_at,
        cast(call_duration_seconds as integer) as duration_seconds,
        cast(null as {{ dbt.type_string() }}) as source_thread_id,
        case when task_cases.case_id is not null then 'salesforce:' || task_cases.case_id end as case_id
    from tasks
    left join sf_cases as task_cases on tasks.what_id = task_cases.case_id

),

salesforce_events as (

    select
        'salesforce:' || event_id as interaction_id,
        'salesforce' as source_system,
        'salesforce:contact:' || who_id as person_record_key,
        'salesforce:lead:' || who_id as alternative_record_key,
        'salesforce:account:' || account_id as company_record_key,
        owner_id,
        'outbound' as direction,
        'meeting' as interaction_type,
        'event_type' as channel_field,
        lower(trim(coalesce(event_type, 'meeting'))) as channel_value,
        coalesce(started_at, created_at) as occurred_at,
        cast(coalesce(duration_minutes * 60, {{ dbt.datediff('started_at', 'ended_at', 'second') }}) as integer) as duration_seconds,
        cast(null as {{ dbt.type_string() }}) as source_thread_id,
        case when event_cases.case_id is not null then 'salesforce:' || event_cases.case_id end as case_id
    from events
    left join sf_cases as event_cases on events.what_id = event_cases.case_id

),

hubspot_engagements as (

    select
        'hubspot:' || engagement_id as interaction_id,
        'hubspot' as source_system,
        'hubspot:contact:' || contact_id as person_record_key,
        cast(null as {{ dbt.type_string() }}) as alternative_record_key,
        'hubspot:company:' || company_id as company_record_key,
        owner_id,
        case
            when upper(engagement_type) = 'INCOMING_EMAIL' then 'inbound'
            when upper(email_direction) = 'INCOMING_EMAIL' then 'inbound'
            when upper(call_direction) = 'INBOUND' then 'inbound'
            else 'outbound'
        end as direction,
        case upper(engagement_type)
            when 'CALL' then 'call'
            when 'MEETING' then 'meeting'
            when 'NOTE' then 'note'
            when 'TASK' then 'task'
            else 'email'
        end as interaction_type,
        'engagement_type' as channel_field,
        lower(trim(engagement_type)) as channel_value,
        coalesce(occurred_at, meeting_started_at, created_at, updated_at) as occurred_at,
        {#- round(): a cast of a fractional number rounds on DuckDB but truncates on Spark. -#}
        cast(round(coalesce(
            call_duration_milliseconds / 1000,
            {{ dbt.datediff('meeting_started_at', 'meeting_ended_at', 'second') }}
        )) as integer) as duration_seconds,
        cast(null as {{ dbt.type_string() }}) as source_thread_id,
        case when engagement_tickets.ticket_id is not null then 'hubspot:' || engagement_tickets.ticket_id end as case_id
    from engagements
    left join hs_tickets as engagement_tickets on engagements.ticket_id = engagement_tickets.ticket_id

),

contact_center_messages as (

    select
        'contact_center:' || message_id as interaction_id,
        'contact_center' as source_system,
        {{ message_customer_record_key('customer_email', 'customer_phone', 'customer_handle', 'thread_id') }} as person_record_key,
        cast(null as {{ dbt.type_string() }}) as alternative_record_key,
        cast(null as {{ dbt.type_string() }}) as company_record_key,
        agent_id as owner_id,
        case when lower(direction) like 'in%' then 'inbound' else 'outbound' end as direction,
        'message' as interaction_type,
        'channel' as channel_field,
        lower(trim(channel)) as channel_value,
        sent_at as occurred_at,
        cast(null as integer) as duration_seconds,
        'contact_center:' || thread_id as source_thread_id,
        case
            when message_cases.case_id is not null then 'salesforce:' || message_cases.case_id
            when message_tickets.ticket_id is not null then 'hubspot:' || message_tickets.ticket_id
        end as case_id
    from messages
    left join sf_cases as message_cases on messages.case_id = message_cases.case_id
    left join hs_tickets as message_tickets on messages.case_id = message_tickets.ticket_id

),

unioned as (

    select * from salesforce_tasks
    union all
    select * from salesforce_events
    union all
    select * from hubspot_engagements
    union all
    select * from contact_center_messages

),

resolved as (

    select
        unioned.interaction_id,
        unioned.source_system,
        coalesce(person.customer_key, alternative.customer_key, company.customer_key, 'unknown') as customer_key,
        coalesce(channel_values.channel_name, 'unknown') as channel_key,
        coalesce(owners.owner_key, 'unknown') as owner_key,
        unioned.direction,
        unioned.interaction_type,
        unioned.occurred_at,
        cast(unioned.occurred_at as date) as occurred_date,
        unioned.duration_seconds,
        unioned.source_thread_id,
        unioned.case_id
    from unioned
    left join person_crosswalk as person on unioned.person_record_key = person.record_key
    left join lead_crosswalk as alternative on unioned.alternative_record_key = alternative.record_key
    left join company_crosswalk as company on unioned.company_record_key = company.record_key
    left join channel_values
        on unioned.source_system = channel_values.source_system
            and unioned.channel_field = channel_values.source_field
            and unioned.channel_value = channel_values.source_value
    left join owners on unioned.source_system || ':' || unioned.owner_id = owners.owner_key

),

final as (

    select
        interaction_id,
        source_system,
        customer_key,
        channel_key,
        owner_key,
        direction,
        interaction_type,
        occurred_at,
        occurred_date,
        duration_seconds,
        coalesce(source_thread_id, customer_key || '|' || channel_key) as thread_id,
        case_id
    from resolved
    where occurred_at is null
        or occurred_at <= (select as_of.as_of_at from as_of)

)

select * from final
