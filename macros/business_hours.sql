{#- Seconds of an interval [start, end) that fall inside business hours: the interval is
    joined to the business-hours calendar (one row per business day with its opening and
    closing instant in UTC, weekends and holidays absent) and the overlaps are summed.
    `intervals` has (interval_id, interval_start, interval_end). Returns interval_id,
    business_seconds (0 when the interval is wholly outside business hours, null when open). -#}
{% macro business_seconds(intervals, calendar) -%}
    {{ return(adapter.dispatch('business_seconds', 'crmwh')(intervals, calendar)) }}
{%- endmacro %}

{% macro default__business_seconds(intervals, calendar) -%}
    select
        intervals.interval_id,
        case
            when max(intervals.interval_end) is not null
                then coalesce(sum(
                    {{ dbt.datediff(
                        "case when intervals.interval_start > calendar.opens_at then intervals.interval_start else calendar.opens_at end",
                        "case when intervals.interval_end < calendar.closes_at then intervals.interval_end else calendar.closes_at end",
                        'second') }}
                ), 0)
        end as business_seconds
    from {{ intervals }} as intervals
    left join {{ calendar }} as calendar
        on calendar.opens_at < intervals.interval_end
        and calendar.closes_at > intervals.interval_start
    group by intervals.interval_id
{%- endmacro %}

{% macro duckdb__business_seconds(intervals, calendar) -%}
    {{ return(default__business_seconds(intervals, calendar)) }}
{%- endmacro %}
