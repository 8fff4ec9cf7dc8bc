-- Every live landed interaction that happened (a completed task; occurred by the build's as-of
-- instant) appears exactly once in fct_interactions, and nothing else does.
-- It is also the uniqueness test of fct_interactions.interaction_id (a key with two rows fails here).
with

as_of as (

    select as_of_at from {{ ref('int_calendar__as_of') }}

),

landed as (

    select
        'salesforce:' || task_id as interaction_id,
        coalesce(completed_at, cast(activity_date as timestamp), created_at) as occurred_at
    from {{ ref('stg_salesforce__tasks') }}
    where not is_deleted and (lower(status) = 'completed' or completed_at is not null)
    union all
    select
        'salesforce:' || event_id as interaction_id,
        coalesce(started_at, created_at) as occurred_at
    from {{ ref('stg_salesforce__events') }}
    where not is_deleted
    union all
    select
        'hubspot:' || engagement_id as interaction_id,
        coalesce(occurred_at, meeting_started_at, created_at, updated_at) as occurred_at
    from {{ ref('stg_hubspot__engagements') }}
    where not is_deleted
    union all
    select
        'contact_center:' || message_id as interaction_id,
        sent_at as occurred_at
    from {{ ref('stg_contact_center__messages') }}
    where not is_deleted

),

happened as (

    select landed.interaction_id
    from landed
    cross join as_of
    where landed.occurred_at is null or landed.occurred_at <= as_of.as_of_at

),

facts as (

    select
        interaction_id,
        count(*) as fact_rows
    from {{ ref('fct_interactions') }}
    group by interaction_id

)

select
    coalesce(happened.interaction_id, facts.interaction_id) as interaction_id,
    coalesce(facts.fact_rows, 0) as fact_rows,
    happened.interaction_id is not null as is_landed
from happened
full outer join facts on happened.interaction_id = facts.interaction_id
where happened.interaction_id is null
    or facts.fact_rows is null
    or facts.fact_rows <> 1
