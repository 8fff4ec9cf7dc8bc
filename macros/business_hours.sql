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

{#- DuckDB: no range join of every interval with every business day it spans (millions of
    interval x day pairs). Business seconds elapsed before an instant t are the seconds of all
    earlier business days plus the part of t's day already open; an ASOF join finds the last
    business day opening at or before t, and an interval's business time is the difference
    of that running total between its end and its start. -#}
{% macro duckdb__business_seconds(intervals, calendar) -%}
    with
    business_days as (
        select
            opens_at,
            closes_at,
            coalesce(sum(epoch(closes_at) - epoch(opens_at)) over (
                order by opens_at rows between unbounded preceding and 1 preceding
            ), 0) as seconds_before_day
        from {{ calendar }}
    ),

    instants as (
        select
            interval_id,
            0 as is_end,
            interval_start as instant
        from {{ intervals }}
        union all
        select
            interval_id,
            1 as is_end,
            interval_end as instant
        from {{ intervals }}
    ),

    elapsed as (
        select
            instants.interval_id,
            instants.is_end,
            instants.instant,
            coalesce(
                business_days.seconds_before_day
                + least(
                    greatest(epoch(instants.instant) - epoch(business_days.opens_at), 0),
                    epoch(business_days.closes_at) - epoch(business_days.opens_at)
                ),
                0
            ) as business_seconds_before
        from instants
        asof left join business_days on instants.instant >= business_days.opens_at
    )

    select
        interval_id,
        case
            when max(case when is_end = 1 then instant end) is null then null
            when max(case when is_end = 0 then instant end) is null then 0
            else cast(greatest(
                    max(case when is_end = 1 then business_seconds_before end)
                    - max(case when is_end = 0 then business_seconds_before end),
                0
            ) as bigint)
        end as business_seconds
    from elapsed
    group by interval_id
{%- endmacro %}
