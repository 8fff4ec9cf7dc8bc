{{
    config(
        materialized=incremental_materialization(),
        unique_key='event_id',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
    )
}}

with

source as (

    select * from {{ lake_source('salesforce', 'event') }}
    {{ landed_since_last_run() }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as event_id,
        cast(who_id as {{ dbt.type_string() }}) as who_id,
        cast(what_id as {{ dbt.type_string() }}) as what_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(owner_id as {{ dbt.type_string() }}) as owner_id,
        cast(subject as {{ dbt.type_string() }}) as subject,
        cast(type as {{ dbt.type_string() }}) as event_type,
        cast(event_subtype as {{ dbt.type_string() }}) as event_subtype,
        cast(start_date_time as timestamp) as started_at,
        cast(end_date_time as timestamp) as ended_at,
        cast(duration_in_minutes as bigint) as duration_minutes,
        cast(created_date as timestamp) as created_at,
        cast(last_modified_date as timestamp) as last_modified_at,
        cast(system_modstamp as timestamp) as updated_at,
        coalesce(cast(is_deleted as boolean), false) as is_deleted,
        _source_file as source_file,
        _load_id as load_id,
        cast(_ingested_at as timestamp) as ingested_at,
        _row_hash as row_hash
    from source

),

deduplicated as (

    {{ deduplicate_with_staged('renamed', partition_by='event_id', order_by='updated_at desc nulls last, ingested_at desc, source_file desc') }}

),

final as (

    select
        event_id,
        who_id,
        what_id,
        account_id,
        owner_id,
        subject,
        event_type,
        event_subtype,
        started_at,
        ended_at,
        duration_minutes,
        created_at,
        last_modified_at,
        updated_at,
        is_deleted,
        source_file,
        load_id,
        ingested_at,
        row_hash
    from deduplicated

)

select * from final
