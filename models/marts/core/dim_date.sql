{%- set fiscal_start = var('fiscal_year_start_month') | int -%}

with

days as (

    select * from {{ ref('int_calendar__days') }}

),

parts as (

    select
        date_day,
        cast(extract(year from date_day) as integer) as calendar_year,
        cast(extract(month from date_day) as integer) as calendar_month,
        day_of_week,
        is_holiday
    from days

),

fiscal as (

    select
        *,
        {%- if fiscal_start == 1 %}
        calendar_year as fiscal_year,
        {%- else %}
            case when calendar_month >= {{ fiscal_start }} then calendar_year + 1 else calendar_year end as fiscal_year,
        {%- endif %}
        cast(floor(((calendar_month - {{ fiscal_start }} + 12) % 12) / 3) + 1 as integer) as fiscal_quarter
    from parts

),

final as (

    select
        cast(date_day as date) as date_day,
        cast(calendar_year as integer) as year,  -- noqa: RF04
        cast(floor((calendar_month - 1) / 3) + 1 as integer) as quarter,  -- noqa: RF04
        cast(cast(calendar_year as {{ dbt.type_string() }}) || '-Q' || cast(cast(floor((calendar_month - 1) / 3) + 1 as integer) as {{ dbt.type_string() }}) as {{ dbt.type_string() }}) as year_quarter,
        cast(calendar_month as integer) as month,  -- noqa: RF04
        cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start_date,
        cast(cast(calendar_year as {{ dbt.type_string() }}) || '-' || lpad(cast(calendar_month as {{ dbt.type_string() }}), 2, '0') as {{ dbt.type_string() }}) as year_month,  -- noqa: RF04
        cast(extract(week from date_day) as integer) as iso_week,
        cast({{ dbt.dateadd('day', '1 - day_of_week', 'date_day') }} as date) as week_start_date,
        cast(day_of_week as integer) as day_of_week,
        day_of_week in (6, 7) as is_weekend,
        cast(is_holiday as boolean) as is_holiday,
        cast(fiscal_year as integer) as fiscal_year,
        cast(fiscal_quarter as integer) as fiscal_quarter,
        cast('FY' || cast(fiscal_year as {{ dbt.type_string() }}) || '-Q' || cast(fiscal_quarter as {{ dbt.type_string() }}) as {{ dbt.type_string() }}) as fiscal_year_quarter
    from fiscal

)

select * from final
