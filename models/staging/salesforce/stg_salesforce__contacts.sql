with

source as (

    select * from {{ lake_source('salesforce', 'contact') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as contact_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(first_name as {{ dbt.type_string() }}) as first_name,
        cast(last_name as {{ dbt.type_string() }}) as last_name,
        cast(name as {{ dbt.type_string() }}) as contact_name,
        cast(email as {{ dbt.type_string() }}) as email,
        cast(phone as {{ dbt.type_string() }}) as phone,
        cast(mobile_phone as {{ dbt.type_string() }}) as mobile_phone,
        cast(mailing_city as {{ dbt.type_string() }}) as city,
        cast(mailing_country as {{ dbt.type_string() }}) as country_code,
        cast(title as {{ dbt.type_string() }}) as title,
        cast(lead_source as {{ dbt.type_string() }}) as lead_source,
        cast(owner_id as {{ dbt.type_string() }}) as owner_id,
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

    {{ deduplicate('renamed', partition_by='contact_id', order_by='updated_at desc nulls last, ingested_at desc, source_file desc') }}

),

final as (

    select
        contact_id,
        account_id,
        first_name,
        last_name,
        contact_name,
        email,
        phone,
        mobile_phone,
        city,
        country_code,
        title,
        lead_source,
        owner_id,
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
