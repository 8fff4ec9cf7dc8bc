-- A stage is left after it is entered, and exactly one stage per opportunity is current.
with

per_opportunity as (

    select
        opportunity_id,
        sum(case when is_current_stage then 1 else 0 end) as current_stages,
        sum(case when exited_at < entered_at then 1 else 0 end) as reversed_stages
    from {{ ref('fct_opportunity_stage_changes') }}
    group by opportunity_id

)

select *
from per_opportunity
where current_stages <> 1
    or reversed_stages > 0
