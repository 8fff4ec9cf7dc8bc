with

source as (

    select * from {{ lake_source('hubspot', 'contact_merge_audit') }}

),

renamed as (

    select
        {{ dbt.hash(dbt.concat(["cast(canonical_vid as " ~ dbt.type_string() ~ ")", "'|'", "cast(vid_to_merge as " ~ dbt.type_string() ~ ")"])) }} as merge_id,
        cast(canonical_vid as {{ dbt.type_string() }}) as canonical_contact_id,
        cast(vid_to_merge as {{ dbt.type_string() }}) as merged_contact_id,
        cast(timestamp as timestamp) as updated_at,
        false as is_deleted,
        _source_file as source_file,
        _load_id as load_id,
        cast(_ingested_at as timestamp) as ingested_at,
        _row_hash as row_hash
    from source

),

deduplicated as (

    {{ deduplicate('renamed', partition_by='merge_id', order_by='updated_at desc nulls last, ingested_at desc, source_file desc') }}

),

final as (

    select
        merge_id,
        canonical_contact_id,
        merged_contact_id,
        updated_at,
        is_deleted,
        source_file,
        load_id,
        ingested_at,
        row_hash
    from deduplicated

)

select * from final
