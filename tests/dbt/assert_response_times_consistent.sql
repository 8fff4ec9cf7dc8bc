-- Responses are outbound on an asynchronous channel, timed, and never spend more business time than wall-clock time.
select
    interactions.interaction_id,
    interactions.direction,
    interactions.response_seconds,
    interactions.response_business_seconds
from {{ ref('fct_interactions') }} as interactions
inner join {{ ref('dim_channel') }} as channels on interactions.channel_key = channels.channel_key
where (
    interactions.is_response
    and (
        interactions.direction <> 'outbound'
        or not channels.is_asynchronous
        or interactions.response_seconds is null
        or interactions.response_business_seconds is null
    )
)
or interactions.response_seconds < 0
or interactions.response_business_seconds < 0
or interactions.response_business_seconds > interactions.response_seconds
or (interactions.is_first_response and not interactions.is_response)
