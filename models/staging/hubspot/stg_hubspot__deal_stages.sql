with

source as (

    select * from {{ lake_source('hubspot', 'deal_stage') }}

),

renamed as (

    select
        {{ dbt.hash(dbt.concat(["cast(deal_id as " ~ dbt.type_string() ~ ")", "'|'", "cast(value as " ~ dbt.type_string() ~ ")", "'|'", "cast(date_entered as " ~ dbt.type_string() ~ ")"])) }} as deal_stage_id,
        cast(deal_id as {{ dbt.type_string() }}) as deal_id,
        cast(value as {{ dbt.type_string() }}) as deal_stage,
        cast(date_entered as timestamp) as entered_at,
        cast(source_type as {{ dbt.type_string() }}) as change_source,
        cast(date_entered as timestamp) as updated_at,
        false as is_deleted,
        _source_file as source_file,
        _load_id as load_id,
        cast(_ingested_at as timestamp) as ingested_at,
        _row_hash as row_hash
    from source

),

deduplicated as (

    {{ deduplicate('renamed', partition_by='deal_stage_id', order_by='updated_at desc nulls last, ingested_at desc, source_file desc') }}

),

final as (

    select
        deal_stage_id,
        deal_id,
        deal_stage,
        entered_at,
        change_source,
        updated_at,
        is_deleted,
        source_file,
        load_id,
        ingested_at,
        row_hash
    from deduplicated

)

select * from final
