with

source as (

    select * from {{ lake_source('salesforce', 'case') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as case_id,
        cast(case_number as {{ dbt.type_string() }}) as case_number,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(contact_id as {{ dbt.type_string() }}) as contact_id,
        cast(owner_id as {{ dbt.type_string() }}) as owner_id,
        cast(origin as {{ dbt.type_string() }}) as origin,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(priority as {{ dbt.type_string() }}) as priority,
        cast(subject as {{ dbt.type_string() }}) as subject,
        cast(is_escalated as boolean) as is_escalated,
        cast(is_closed as boolean) as is_closed,
        cast(closed_date as timestamp) as closed_at,
        cast(first_response_at_c as timestamp) as first_response_at,
        cast(reopen_count_c as bigint) as reopen_count,
        cast(satisfaction_score_c as bigint) as satisfaction_score,
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

    {{ deduplicate('renamed', partition_by='case_id', order_by='updated_at desc nulls last, ingested_at desc, source_file desc') }}

),

final as (

    select
        case_id,
        case_number,
        account_id,
        contact_id,
        owner_id,
        origin,
        status,
        priority,
        subject,
        is_escalated,
        is_closed,
        closed_at,
        first_response_at,
        reopen_count,
        satisfaction_score,
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
