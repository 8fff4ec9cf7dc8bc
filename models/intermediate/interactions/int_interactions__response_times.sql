{#- Response times. An outbound interaction is a response when at least one inbound of the
    same thread arrived after the previous outbound and before it (the inbound is
    "unanswered"); it is timed from the earliest such inbound. Order within a thread is by
    time, then id, so simultaneous rows are ordered deterministically. Only asynchronous
    channels (channel_taxonomy.is_asynchronous) take part: a call, meeting or note is answered
    live or is internal, so it neither opens nor answers a response. -#}

with

interactions as (

    select * from {{ ref('int_interactions__unioned') }}

),

asynchronous_channels as (

    select channel_name from {{ ref('channel_taxonomy') }}
    where is_asynchronous

),

business_hours as (

    select * from {{ ref('int_calendar__business_hours') }}

),

sequenced as (

    select
        interaction_id,
        thread_id,
        direction,
        occurred_at,
        row_number() over (partition by thread_id order by occurred_at, interaction_id) as thread_position
    from interactions
    where occurred_at is not null
        and channel_key in (select asynchronous_channels.channel_name from asynchronous_channels)

),

next_outbound as (

    select
        interaction_id,
        thread_id,
        direction,
        occurred_at,
        thread_position,
        min(case when direction = 'outbound' then thread_position end) over (
            partition by thread_id
            order by thread_position
            rows between 1 following and unbounded following
        ) as answering_position
    from sequenced

),

answered_inbound as (

    select
        thread_id,
        answering_position,
        min(occurred_at) as first_unanswered_at
    from next_outbound
    where direction = 'inbound'
        and answering_position is not null
    group by thread_id, answering_position

),

responses as (

    select
        sequenced.interaction_id,
        sequenced.thread_id,
        answered_inbound.first_unanswered_at as response_started_at,
        sequenced.occurred_at as responded_at,
        row_number() over (partition by sequenced.thread_id order by sequenced.thread_position) as response_number
    from sequenced
    inner join answered_inbound
        on sequenced.thread_id = answered_inbound.thread_id
            and sequenced.thread_position = answered_inbound.answering_position

),

intervals as (

    select
        interaction_id as interval_id,
        response_started_at as interval_start,
        responded_at as interval_end
    from responses

),

business_time as (

    {{ business_seconds('intervals', 'business_hours') }}

),

final as (

    select
        responses.interaction_id,
        responses.response_started_at,
        cast({{ dbt.datediff('responses.response_started_at', 'responses.responded_at', 'second') }} as bigint) as response_seconds,
        cast(business_time.business_seconds as bigint) as response_business_seconds,
        responses.response_number = 1 as is_first_response
    from responses
    inner join business_time on responses.interaction_id = business_time.interval_id

)

select * from final
