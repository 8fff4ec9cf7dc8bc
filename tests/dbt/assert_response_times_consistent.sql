-- Responses are outbound, timed, and never spend more business time than wall-clock time.
select
    interaction_id,
    direction,
    response_seconds,
    response_business_seconds
from {{ ref('fct_interactions') }}
where (is_response and (direction <> 'outbound' or response_seconds is null or response_business_seconds is null))
    or response_seconds < 0
    or response_business_seconds < 0
    or response_business_seconds > response_seconds
    or (is_first_response and not is_response)
