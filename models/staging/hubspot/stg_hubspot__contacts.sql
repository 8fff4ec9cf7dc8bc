with

source as (

    select * from {{ lake_source('hubspot', 'contact') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as contact_id,
        cast(property_email as {{ dbt.type_string() }}) as email,
        cast(property_firstname as {{ dbt.type_string() }}) as first_name,
        cast(property_lastname as {{ dbt.type_string() }}) as last_name,
        cast(property_phone as {{ dbt.type_string() }}) as phone,
        cast(property_mobilephone as {{ dbt.type_string() }}) as mobile_phone,
        cast(property_company as {{ dbt.type_string() }}) as company_name,
        cast(property_city as {{ dbt.type_string() }}) as city,
        cast(property_country as {{ dbt.type_string() }}) as country_code,
        cast(property_lifecyclestage as {{ dbt.type_string() }}) as lifecycle_stage,
        cast(property_hs_lead_status as {{ dbt.type_string() }}) as lead_status,
        cast(property_hs_analytics_source as {{ dbt.type_string() }}) as analytics_source,
        cast(property_hs_analytics_source_data_1 as {{ dbt.type_string() }}) as analytics_source_detail,
        cast(property_hubspot_owner_id as {{ dbt.type_string() }}) as owner_id,
        cast(property_associatedcompanyid as {{ dbt.type_string() }}) as company_id,
        cast(property_hs_merged_object_ids as {{ dbt.type_string() }}) as merged_object_ids,
        cast(property_createdate as timestamp) as created_at,
        cast(property_lastmodifieddate as timestamp) as updated_at,
        coalesce(cast(archived as boolean), false) as is_deleted,
        _source_file as source_file,
        _load_id as load_id,
        cast(_ingested_at as timestamp) as ingested_at,
        _row_hash as row_hash
    from source

),

deduplicated as (

    {{ deduplicate('renamed', partition_by='contact_id', order_by='updated_at desc nulls last, ingested_at desc, source_file desc') }}

),

final as (

    select
        contact_id,
        email,
        first_name,
        last_name,
        phone,
        mobile_phone,
        company_name,
        city,
        country_code,
        lifecycle_stage,
        lead_status,
        analytics_source,
        analytics_source_detail,
        owner_id,
        company_id,
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
