{{
    config(
        materialized=incremental_materialization(),
        unique_key='message_id',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
    )
}}

with

source as (

    select * from {{ lake_source('contact_center', 'message') }}
    {{ landed_since_last_run() }}

),

renamed as (

    select
        cast(message_id as {{ dbt.type_string() }}) as message_id,
        cast(thread_id as {{ dbt.type_string() }}) as thread_id,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(direction as {{ dbt.type_string() }}) as direction,
        cast(sent_at as timestamp) as sent_at,
        cast(customer_email as {{ dbt.type_string() }}) as customer_email,
        cast(customer_phone as {{ dbt.type_string() }}) as customer_phone,
        cast(customer_handle as {{ dbt.type_string() }}) as customer_handle,
        cast(agent_id as {{ dbt.type_string() }}) as agent_id,
        cast(case_id as {{ dbt.type_string() }}) as case_id,
        cast(sent_at as timestamp) as updated_at,
        false as is_deleted,
        _source_file as source_file,
        _load_id as load_id,
        cast(_ingested_at as timestamp) as ingested_at,
        _row_hash as row_hash
    from source

),

deduplicated as (

    {{ deduplicate_with_staged('renamed', partition_by='message_id', order_by='updated_at desc nulls last, ingested_at desc, source_file desc') }}

),

final as (

    select
        message_id,
        thread_id,
        channel,
        direction,
        sent_at,
        customer_email,
        customer_phone,
        customer_handle,
        agent_id,
        case_id,
        updated_at,
        is_deleted,
        source_file,
        load_id,
        ingested_at,
        row_hash
    from deduplicated

)

select * from final
