-- Every live landed interaction appears exactly once in fct_interactions, and nothing else does.
with

landed as (

    select 'salesforce:' || task_id as interaction_id from {{ ref('stg_salesforce__tasks') }} where not is_deleted
    union all
    select 'salesforce:' || event_id as interaction_id from {{ ref('stg_salesforce__events') }} where not is_deleted
    union all
    select 'hubspot:' || engagement_id as interaction_id from {{ ref('stg_hubspot__engagements') }} where not is_deleted
    union all
    select 'contact_center:' || message_id as interaction_id from {{ ref('stg_contact_center__messages') }} where not is_deleted

),

facts as (

    select
        interaction_id,
        count(*) as fact_rows
    from {{ ref('fct_interactions') }}
    group by interaction_id

)

select
    coalesce(landed.interaction_id, facts.interaction_id) as interaction_id,
    coalesce(facts.fact_rows, 0) as fact_rows,
    landed.interaction_id is not null as is_landed
from landed
full outer join facts on landed.interaction_id = facts.interaction_id
where landed.interaction_id is null
    or facts.fact_rows is null
    or facts.fact_rows <> 1
