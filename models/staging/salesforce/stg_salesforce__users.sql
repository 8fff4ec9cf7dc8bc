with

source as (

    select * from {{ lake_source('salesforce', 'user') }}

),

renamed as (

    select
        cast(id as varchar) as user_id,
        cast(first_name as varchar) as first_name,
        cast(last_name as varchar) as last_name,
        cast(name as varchar) as user_name,
        cast(email as varchar) as email,
        cast(is_active as boolean) as is_active,
        cast(department as varchar) as department,
        cast(title as varchar) as title,
        cast(user_role_id as varchar) as user_role_id,
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
