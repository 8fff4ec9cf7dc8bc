with

source as (

    select * from {{ lake_source('hubspot', 'owner') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as owner_id,
        cast(email as {{ dbt.type_string() }}) as email,
        cast(first_name as {{ dbt.type_string() }}) as first_name,
        cast(last_name as {{ dbt.type_string() }}) as last_name,
        cast(team_name as {{ dbt.type_string() }}) as team_name,
        cast(archived as boolean) as is_archived,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        false as is_deleted,
        _source_file as source_file,
        _load_id as load_id,
        cast(_ingested_at as timestamp) as ingested_at,
        _row_hash as row_hash
    from source

),

deduplicated as (

    {{ deduplicate('renamed', partition_by='owner_id', order_by='updated_at desc nulls last, ingested_at desc, source_file desc') }}

),

final as (

    select
        owner_id,
        email,
        first_name,
        last_name,
        team_name,
        is_archived,
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
