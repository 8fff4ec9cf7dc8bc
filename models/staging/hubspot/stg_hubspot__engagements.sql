{{
    config(
        materialized=incremental_materialization(),
        unique_key='engagement_id',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
    )
}}

with

source as (

    select * from {{ lake_source('hubspot', 'engagement') }}
    {{ landed_since_last_run() }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as engagement_id,
        cast(type as {{ dbt.type_string() }}) as engagement_type,
        cast(property_hs_timestamp as timestamp) as occurred_at,
        cast(property_hubspot_owner_id as {{ dbt.type_string() }}) as owner_id,
        cast(property_hs_email_direction as {{ dbt.type_string() }}) as email_direction,
        cast(property_hs_call_direction as {{ dbt.type_string() }}) as call_direction,
        cast(property_hs_call_duration as bigint) as call_duration_milliseconds,
        cast(property_hs_meeting_start_time as timestamp) as meeting_started_at,
        cast(property_hs_meeting_end_time as timestamp) as meeting_ended_at,
        cast(contact_id as {{ dbt.type_string() }}) as contact_id,
        cast(company_id as {{ dbt.type_string() }}) as company_id,
        cast(deal_id as {{ dbt.type_string() }}) as deal_id,
        cast(ticket_id as {{ dbt.type_string() }}) as ticket_id,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        coalesce(cast(archived as boolean), false) as is_deleted,
        _source_file as source_file,
        _load_id as load_id,
        cast(_ingested_at as timestamp) as ingested_at,
        _row_hash as row_hash
    from source

),

deduplicated as (

    {{ deduplicate_with_staged('renamed', partition_by='engagement_id', order_by='updated_at desc nulls last, ingested_at desc, source_file desc') }}

),

final as (

    select
        engagement_id,
        engagement_type,
        occurred_at,
        owner_id,
        email_direction,
        call_direction,
        call_duration_milliseconds,
        meeting_started_at,
        meeting_ended_at,
        contact_id,
        company_id,
        deal_id,
        ticket_id,
        created_at,
        updated_at,
        is_deleted,
        source_file,
        load_id,
        ingested_at,
        row_hash
    from deduplicated

)

select * from final
