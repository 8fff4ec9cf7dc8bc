with

source as (

    select * from {{ lake_source('salesforce', 'opportunity') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as opportunity_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(name as {{ dbt.type_string() }}) as opportunity_name,
        cast(stage_name as {{ dbt.type_string() }}) as stage_name,
        cast(amount as decimal(18, 2)) as amount,
        cast(currency_iso_code as {{ dbt.type_string() }}) as currency_code,
        cast(probability as double) as probability_percent,
        cast(close_date as date) as close_date,
        cast(is_closed as boolean) as is_closed,
        cast(is_won as boolean) as is_won,
        cast(lead_source as {{ dbt.type_string() }}) as lead_source,
        cast(type as {{ dbt.type_string() }}) as opportunity_type,
        cast(owner_id as {{ dbt.type_string() }}) as owner_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
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

    {{ deduplicate('renamed', partition_by='opportunity_id', order_by='updated_at desc nulls last, ingested_at desc, source_file desc') }}

),

final as (

    select
        opportunity_id,
        account_id,
        opportunity_name,
        stage_name,
        amount,
        currency_code,
        probability_percent,
        close_date,
        is_closed,
        is_won,
        lead_source,
        opportunity_type,
        owner_id,
        campaign_id,
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
