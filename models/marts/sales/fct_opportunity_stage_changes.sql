with

stage_history as (

    select * from {{ ref('int_opportunities__stage_history') }}

),

opportunities as (

    select * from {{ ref('int_opportunities__unioned') }}

),

funnel as (

    select * from {{ ref('stage_funnel_steps') }}

),

stepped as (

    select
        stage_history.opportunity_id,
        stage_history.source_system,
        stage_history.stage_sequence,
        stage_history.from_stage,
        stage_history.to_stage,
        coalesce(funnel.funnel_step, 'unknown') as funnel_step,
        coalesce(funnel.step_order, 0) as step_order,
        stage_history.entered_at
    from stage_history
    left join funnel
        on stage_history.source_system = funnel.source_system
            and stage_history.to_stage = funnel.stage_value

),

with_next as (

    select
        *,
        lead(entered_at) over (partition by opportunity_id order by stage_sequence) as exited_at,
        lead(funnel_step) over (partition by opportunity_id order by stage_sequence) as next_funnel_step,
        lead(step_order) over (partition by opportunity_id order by stage_sequence) as next_step_order
    from stepped

),

final as (

    select
        cast(with_next.opportunity_id || ':' || cast(with_next.stage_sequence as {{ dbt.type_string() }}) as {{ dbt.type_string() }}) as stage_change_id,
        cast(with_next.opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
        cast(with_next.source_system as {{ dbt.type_string() }}) as source_system,
        cast(opportunities.customer_key as {{ dbt.type_string() }}) as customer_key,
        cast(opportunities.owner_key as {{ dbt.type_string() }}) as owner_key,
        cast(with_next.from_stage as {{ dbt.type_string() }}) as from_stage,
        cast(with_next.to_stage as {{ dbt.type_string() }}) as to_stage,
        cast(with_next.funnel_step as {{ dbt.type_string() }}) as funnel_step,
        cast(with_next.step_order as integer) as step_order,
        cast(with_next.entered_at as timestamp) as entered_at,
        cast(with_next.entered_at as date) as entered_date,
        cast(with_next.exited_at as timestamp) as exited_at,
        cast({{ dbt.datediff('with_next.entered_at', 'with_next.exited_at', 'second') }} / 86400.0 as double) as days_in_stage,
        cast(with_next.next_funnel_step as {{ dbt.type_string() }}) as next_funnel_step,
        coalesce(
            with_next.next_step_order > with_next.step_order and with_next.next_funnel_step <> 'Closed Lost',
            false
        ) as has_advanced,
        with_next.exited_at is null as is_current_stage
    from with_next
    inner join opportunities on with_next.opportunity_id = opportunities.opportunity_id

)

select * from final
