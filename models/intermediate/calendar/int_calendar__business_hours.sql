with

days as (

    select * from {{ ref('int_calendar__days') }}

),

business_days as (

    select
        date_day as business_date,
        {{ dbt.dateadd('minute', minutes_of_day(var('business_start')), 'cast(date_day as timestamp)') }} as opens_at_local,
        {{ dbt.dateadd('minute', minutes_of_day(var('business_end')), 'cast(date_day as timestamp)') }} as closes_at_local
    from days
    where is_business_day

),

final as (

    select
        business_date,
        {{ local_to_utc('opens_at_local', var('business_timezone')) }} as opens_at,
        {{ local_to_utc('closes_at_local', var('business_timezone')) }} as closes_at
    from business_days

)

select * from final
