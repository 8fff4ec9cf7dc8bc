{{
    config(
        materialized=incremental_materialization(),
        unique_key='task_id',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
    )
}}

with

source as (

    select * from {{ lake_source('salesforce', 'task') }}
    {{ landed_since_last_run() }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as task_id,
        cast(who_id as {{ dbt.type_string() }}) as who_id,
        cast(what_id as {{ dbt.type_string() }}) as what_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(owner_id as {{ dbt.type_string() }}) as owner_id,
        cast(subject as {{ dbt.type_string() }}) as subject,
        cast(type as {{ dbt.type_string() }}) as task_type,
        cast(task_subtype as {{ dbt.type_string() }}) as task_subtype,
        cast(call_type as {{ dbt.type_string() }}) as call_type,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(priority as {{ dbt.type_string() }}) as priority,
        cast(activity_date as date) as activity_date,
        cast(completed_date_time as timestamp) as completed_at,
        cast(call_duration_in_seconds as bigint) as call_duration_seconds,
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

    {{ deduplicate_with_staged('renamed', partition_by='task_id', order_by='updated_at desc nulls last, ingested_at desc, source_file desc') }}

),

final as (

    select
        task_id,
        who_id,
        what_id,
        account_id,
        owner_id,
        subject,
        task_type,
        task_subtype,
        call_type,
        status,
        priority,
        activity_date,
        completed_at,
        call_duration_seconds,
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
