with

source as (

    select * from {{ lake_source('salesforce', 'user') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as user_id,
        cast(first_name as {{ dbt.type_string() }}) as first_name,
        cast(last_name as {{ dbt.type_string() }}) as last_name,
        cast(name as {{ dbt.type_string() }}) as user_name,
        cast(email as {{ dbt.type_string() }}) as email,
        cast(is_active as boolean) as is_active,
        cast(department as {{ dbt.type_string() }}) as department,
        cast(title as {{ dbt.type_string() }}) as title,
        cast(user_role_id as {{ dbt.type_string() }}) as user_role_id,
        cast(created_date as timestamp) as created_at,
        cast(system_modstamp as timestamp) as updated_at,
        false as is_deleted,
        _source_file as source_file,
        _load_id as load_id,
        cast(_ingested_at as timestamp) as ingested_at,
        _row_hash as row_hash
    from source

),

deduplicated as (

    {{ deduplicate('renamed', partition_by='user_id', order_by='updated_at desc nulls last, ingested_at desc, source_file desc') }}

),

final as (

    select
        user_id,
        first_name,
        last_name,
        user_name,
        email,
        is_active,
        department,
        title,
        user_role_id,
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
