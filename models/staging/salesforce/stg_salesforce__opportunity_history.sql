with

source as (

    select * from {{ lake_source('salesforce', 'opportunity_history') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as opportunity_history_id,
        cast(opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
        cast(stage_name as {{ dbt.type_string() }}) as stage_name,
        cast(amount as decimal(18, 2)) as amount,
        cast(probability as double) as probability_percent,
        cast(close_date as date) as close_date,
        cast(created_date as timestamp) as created_at,
        cast(system_modstamp as timestamp) as updated_at,
        coalesce(cast(is_deleted as boolean), false) as is_deleted,
        _source_file as source_file,
        _load_id as load_id,
        cast(_ingested_at as timestamp) as ingested_at,
        _row_hash as row_hash
    from source

),

deduplicated as (

    {{ deduplicate('renamed', partition_by='opportunity_history_id', order_by='updated_at desc nulls last, ingested_at desc, source_file desc') }}

),

final as (

    select
        opportunity_history_id,
        opportunity_id,
        stage_name,
        amount,
        probability_percent,
        close_date,
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
