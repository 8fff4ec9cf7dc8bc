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

    {#- outbound_count: the outbounds of the thread up to and including the row. An inbound is
        answered by the outbound numbered one more than its count, so one running count over
        one sort finds every answer (no row positions and no second window over them). -#}
    select
        interaction_id,
        thread_id,
        direction,
        occurred_at,
        count(case when direction = 'outbound' then 1 end) over (
            partition by thread_id
            order by occurred_at, interaction_id
            rows between unbounded preceding and current row
        ) as outbound_count
    from interactions
    where occurred_at is not null
        and channel_key in (select asynchronous_channels.channel_name from asynchronous_channels)

),

answered_inbound as (

    select
        thread_id,
        outbound_count + 1 as answering_outbound_number,
        min(occurred_at) as first_unanswered_at
    from sequenced
    where direction = 'inbound'
    group by thread_id, outbound_count + 1

),

responses as (

    select
        sequenced.interaction_id,
        sequenced.thread_id,
        answered_inbound.first_unanswered_at as response_started_at,
        sequenced.occurred_at as responded_at,
        row_number() over (partition by sequenced.thread_id order by sequenced.outbound_count) as response_number
    from sequenced
    inner join answered_inbound
        on sequenced.thread_id = answered_inbound.thread_id
            and sequenced.outbound_count = answered_inbound.answering_outbound_number
    where sequenced.direction = 'outbound'

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
