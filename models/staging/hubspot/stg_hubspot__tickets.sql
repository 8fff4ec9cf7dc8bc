with

source as (

    select * from {{ lake_source('hubspot', 'ticket') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as ticket_id,
        cast(property_subject as {{ dbt.type_string() }}) as subject,
        cast(property_hs_pipeline as {{ dbt.type_string() }}) as pipeline,
        cast(property_hs_pipeline_stage as {{ dbt.type_string() }}) as pipeline_stage,
        cast(property_hs_ticket_priority as {{ dbt.type_string() }}) as priority,
        cast(property_hs_ticket_category as {{ dbt.type_string() }}) as category,
        cast(property_source_type as {{ dbt.type_string() }}) as source_type,
        cast(property_hubspot_owner_id as {{ dbt.type_string() }}) as owner_id,
        cast(property_createdate as timestamp) as created_at,
        cast(property_first_agent_reply_date as timestamp) as first_agent_reply_at,
        cast(property_closed_date as timestamp) as closed_at,
        cast(property_hs_num_times_reopened as bigint) as reopen_count,
        cast(property_hs_is_escalated as boolean) as is_escalated,
        cast(property_hs_feedback_last_csat_rating as bigint) as satisfaction_score,
        cast(contact_id as {{ dbt.type_string() }}) as contact_id,
        cast(property_hs_lastmodifieddate as timestamp) as updated_at,
        coalesce(cast(archived as boolean), false) as is_deleted,
        _source_file as source_file,
        _load_id as load_id,
        cast(_ingested_at as timestamp) as ingested_at,
        _row_hash as row_hash
    from source

),

deduplicated as (

    {{ deduplicate('renamed', partition_by='ticket_id', order_by='updated_at desc nulls last, ingested_at desc, source_file desc') }}

),

final as (

    select
        ticket_id,
        subject,
        pipeline,
        pipeline_stage,
        priority,
        category,
        source_type,
        owner_id,
        created_at,
        first_agent_reply_at,
        closed_at,
        reopen_count,
        is_escalated,
        satisfaction_score,
        contact_id,
        updated_at,
        is_deleted,
        source_file,
        load_id,
        ingested_at,
        row_hash
    from deduplicated

)

select * from final
