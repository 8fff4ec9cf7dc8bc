{{
    config(
        materialized=incremental_materialization(),
        unique_key='interaction_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook="{{ delete_vanished_keys('interaction_id', ref('int_interactions__unioned')) }}",
    )
}}

with

interactions as (

    select * from {{ ref('int_interactions__unioned') }}

),

response_times as (

    select * from {{ ref('int_interactions__response_times') }}

),

final as (

    select
        cast(interactions.interaction_id as {{ dbt.type_string() }}) as interaction_id,
        cast(interactions.source_system as {{ dbt.type_string() }}) as source_system,
        cast(interactions.customer_key as {{ dbt.type_string() }}) as customer_key,
        cast(interactions.channel_key as {{ dbt.type_string() }}) as channel_key,
        cast(interactions.owner_key as {{ dbt.type_string() }}) as owner_key,
        cast(interactions.direction as {{ dbt.type_string() }}) as direction,
        cast(interactions.interaction_type as {{ dbt.type_string() }}) as interaction_type,
        cast(interactions.occurred_at as timestamp) as occurred_at,
        cast(interactions.occurred_date as date) as occurred_date,
        cast(interactions.duration_seconds as integer) as duration_seconds,
        cast(interactions.thread_id as {{ dbt.type_string() }}) as thread_id,
        cast(interactions.case_id as {{ dbt.type_string() }}) as case_id,
        response_times.interaction_id is not null as is_response,
        cast(response_times.response_seconds as bigint) as response_seconds,
        cast(response_times.response_business_seconds as bigint) as response_business_seconds,
        coalesce(response_times.is_first_response, false) as is_first_response
    from interactions
    left join response_times on interactions.interaction_id = response_times.interaction_id

),

changed as (

    {{ rows_changed_since_last_build('final') }}

)

select * from changed
