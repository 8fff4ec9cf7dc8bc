with

source as (

    select * from {{ lake_source('hubspot', 'company') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as company_id,
        cast(property_name as {{ dbt.type_string() }}) as company_name,
        cast(property_domain as {{ dbt.type_string() }}) as company_domain,
        cast(property_industry as {{ dbt.type_string() }}) as industry,
        cast(property_numberofemployees as bigint) as number_of_employees,
        cast(property_annualrevenue as decimal(18, 2)) as annual_revenue,
        cast(property_phone as {{ dbt.type_string() }}) as phone,
        cast(property_city as {{ dbt.type_string() }}) as city,
        cast(property_country as {{ dbt.type_string() }}) as country_code,
        cast(property_hubspot_owner_id as {{ dbt.type_string() }}) as owner_id,
        cast(property_hs_merged_object_ids as {{ dbt.type_string() }}) as merged_object_ids,
        cast(property_createdate as timestamp) as created_at,
        cast(property_hs_lastmodifieddate as timestamp) as updated_at,
        coalesce(cast(archived as boolean), false) as is_deleted,
        _source_file as source_file,
        _load_id as load_id,
        cast(_ingested_at as timestamp) as ingested_at,
        _row_hash as row_hash
    from source

),

deduplicated as (

    {{ deduplicate('renamed', partition_by='company_id', order_by='updated_at desc nulls last, ingested_at desc, source_file desc') }}

),

final as (

    select
        company_id,
        company_name,
        company_domain,
        industry,
        number_of_employees,
        annual_revenue,
        phone,
        city,
        country_code,
        owner_id,
        merged_object_ids,
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
