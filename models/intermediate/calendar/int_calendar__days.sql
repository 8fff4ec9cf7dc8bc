with

spine as (

    {{ dbt.date_spine(
        'day',
        "cast('" ~ var('calendar_start_date') ~ "' as date)",
        "cast('" ~ var('calendar_end_date') ~ "' as date)"
    ) }}

),

holidays as (

    select distinct holiday_date
    from {{ ref('business_holidays') }}
    where country_code = '{{ var('holiday_country') }}'

),

days as (

    select
        cast(spine.date_day as date) as date_day,
        {{ day_of_week_iso('cast(spine.date_day as date)') }} as day_of_week,
        holidays.holiday_date is not null as is_holiday
    from spine
    left join holidays on cast(spine.date_day as date) = holidays.holiday_date

),

final as (

    select
        date_day,
        day_of_week,
        is_holiday,
        day_of_week - 1 in ({{ var('business_weekdays') | join(', ') }}) and not is_holiday as is_business_day
    from days

)

select * from final
