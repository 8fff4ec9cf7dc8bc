with

source as (

    select * from {{ lake_source('salesforce', 'account') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as account_id,
        cast(name as {{ dbt.type_string() }}) as account_name,
        cast(website as {{ dbt.type_string() }}) as website,
        cast(industry as {{ dbt.type_string() }}) as industry,
        cast(type as {{ dbt.type_string() }}) as account_type,
        cast(account_source as {{ dbt.type_string() }}) as account_source,
        cast(number_of_employees as bigint) as number_of_employees,
        cast(annual_revenue as decimal(18, 2)) as annual_revenue,
        cast(currency_iso_code as {{ dbt.type_string() }}) as currency_code,
        cast(phone as {{ dbt.type_string() }}) as phone,
        cast(billing_city as {{ dbt.type_string() }}) as city,
        cast(billing_country as {{ dbt.type_string() }}) as country_code,
        cast(region_c as {{ dbt.type_string() }}) as region,
        cast(segment_c as {{ dbt.type_string() }}) as segment,
        cast(owner_id as {{ dbt.type_string() }}) as owner_id,
        cast(parent_id as {{ dbt.type_string() }}) as parent_account_id,
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

    {{ deduplicate('renamed', partition_by='account_id', order_by='updated_at desc nulls last, ingested_at desc, source_file desc') }}

),

final as (

    select
        account_id,
        account_name,
        website,
        industry,
        account_type,
        account_source,
        number_of_employees,
        annual_revenue,
        currency_code,
        phone,
        city,
        country_code,
        region,
        segment,
        owner_id,
        parent_account_id,
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
