with

cases as (

    select * from {{ ref('int_cases__unioned') }}

),

business_hours as (

    select * from {{ ref('int_calendar__business_hours') }}

),

first_response_intervals as (

    select
        case_id as interval_id,
        opened_at as interval_start,
        first_response_at as interval_end
    from cases
    where opened_at is not null
        and first_response_at >= opened_at

),

resolution_intervals as (

    select
        case_id as interval_id,
        opened_at as interval_start,
        resolved_at as interval_end
    from cases
    where opened_at is not null
        and resolved_at >= opened_at

),

first_response_business as (

    {{ business_seconds('first_response_intervals', 'business_hours') }}

),

resolution_business as (

    {{ business_seconds('resolution_intervals', 'business_hours') }}

),

final as (

    select
        cast(cases.case_id as {{ dbt.type_string() }}) as case_id,
        cast(cases.source_system as {{ dbt.type_string() }}) as source_system,
        cast(cases.customer_key as {{ dbt.type_string() }}) as customer_key,
        cast(cases.channel_key as {{ dbt.type_string() }}) as channel_key,
        cast(cases.owner_key as {{ dbt.type_string() }}) as owner_key,
        cast(cases.opened_at as timestamp) as opened_at,
        cast(cases.opened_at as date) as opened_date,
        cast(cases.first_response_at as timestamp) as first_response_at,
        cast(case when cases.first_response_at >= cases.opened_at then {{ dbt.datediff('cases.opened_at', 'cases.first_response_at', 'second') }} end as bigint) as first_response_seconds,
        cast(first_response_business.business_seconds as bigint) as first_response_business_seconds,
        cast(cases.resolved_at as timestamp) as resolved_at,
        cast(cases.resolved_at as date) as resolved_date,
        cast(case when cases.resolved_at >= cases.opened_at then {{ dbt.datediff('cases.opened_at', 'cases.resolved_at', 'second') }} end as bigint) as resolution_seconds,
        cast(resolution_business.business_seconds as bigint) as resolution_business_seconds,
        cases.resolved_at is not null as is_resolved,
        cast(cases.is_escalated as boolean) as is_escalated,
        cast(cases.reopen_count as integer) as reopen_count,
        cases.reopen_count > 0 as is_reopened,
        cast(cases.satisfaction_score as integer) as satisfaction_score,
        cast(cases.priority as {{ dbt.type_string() }}) as priority,
        cast(cases.status as {{ dbt.type_string() }}) as status
    from cases
    left join first_response_business on cases.case_id = first_response_business.interval_id
    left join resolution_business on cases.case_id = resolution_business.interval_id

)

select * from final
