with

source as (

    select * from {{ lake_source('salesforce', 'lead') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as lead_id,
        cast(first_name as {{ dbt.type_string() }}) as first_name,
        cast(last_name as {{ dbt.type_string() }}) as last_name,
        cast(name as {{ dbt.type_string() }}) as lead_name,
        cast(company as {{ dbt.type_string() }}) as company_name,
        cast(email as {{ dbt.type_string() }}) as email,
        cast(phone as {{ dbt.type_string() }}) as phone,
        cast(city as {{ dbt.type_string() }}) as city,
        cast(country as {{ dbt.type_string() }}) as country_code,
        cast(industry as {{ dbt.type_string() }}) as industry,
        cast(lead_source as {{ dbt.type_string() }}) as lead_source,
        cast(campaign_c as {{ dbt.type_string() }}) as campaign_name,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(owner_id as {{ dbt.type_string() }}) as owner_id,
        cast(is_converted as boolean) as is_converted,
        cast(converted_date as date) as converted_date,
        cast(converted_account_id as {{ dbt.type_string() }}) as converted_account_id,
        cast(converted_contact_id as {{ dbt.type_string() }}) as converted_contact_id,
        cast(converted_opportunity_id as {{ dbt.type_string() }}) as converted_opportunity_id,
        cast(master_record_id as {{ dbt.type_string() }}) as master_record_id,
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

    {{ deduplicate('renamed', partition_by='lead_id', order_by='updated_at desc nulls last, ingested_at desc, source_file desc') }}

),

final as (

    select
        lead_id,
        first_name,
        last_name,
        lead_name,
        company_name,
        email,
        phone,
        city,
        country_code,
        industry,
        lead_source,
        campaign_name,
        status,
        owner_id,
        is_converted,
        converted_date,
        converted_account_id,
        converted_contact_id,
        converted_opportunity_id,
        master_record_id,
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
