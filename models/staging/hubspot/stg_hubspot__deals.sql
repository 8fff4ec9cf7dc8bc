with

source as (

    select * from {{ lake_source('hubspot', 'deal') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as deal_id,
        cast(property_dealname as {{ dbt.type_string() }}) as deal_name,
        cast(property_amount as decimal(18, 2)) as amount,
        cast(property_deal_currency_code as {{ dbt.type_string() }}) as currency_code,
        cast(property_dealstage as {{ dbt.type_string() }}) as deal_stage,
        cast(property_pipeline as {{ dbt.type_string() }}) as pipeline,
        cast(property_closedate as timestamp) as closed_at,
        cast(property_createdate as timestamp) as created_at,
        cast(property_hubspot_owner_id as {{ dbt.type_string() }}) as owner_id,
        cast(property_hs_analytics_source as {{ dbt.type_string() }}) as analytics_source,
        cast(property_hs_is_closed_won as boolean) as is_closed_won,
        cast(property_hs_is_closed as boolean) as is_closed,
        cast(company_id as {{ dbt.type_string() }}) as company_id,
        cast(contact_id as {{ dbt.type_string() }}) as contact_id,
        cast(property_hs_lastmodifieddate as timestamp) as updated_at,
        coalesce(cast(archived as boolean), false) as is_deleted,
        _source_file as source_file,
        _load_id as load_id,
        cast(_ingested_at as timestamp) as ingested_at,
        _row_hash as row_hash
    from source

),

deduplicated as (

    {{ deduplicate('renamed', partition_by='deal_id', order_by='updated_at desc nulls last, ingested_at desc, source_file desc') }}

),

final as (

    select
        deal_id,
        deal_name,
        amount,
        currency_code,
        deal_stage,
        pipeline,
        closed_at,
        created_at,
        owner_id,
        analytics_source,
        is_closed_won,
        is_closed,
        company_id,
        contact_id,
        updated_at,
        is_deleted,
        source_file,
        load_id,
        ingested_at,
        row_hash
    from deduplicated

)

select * from final
