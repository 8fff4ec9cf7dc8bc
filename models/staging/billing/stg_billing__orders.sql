{{
    config(
        materialized=incremental_materialization(),
        unique_key='order_id',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
    )
}}

with

source as (

    select * from {{ lake_source('billing', 'order') }}
    {{ landed_since_last_run() }}

),

renamed as (

    select
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(customer_email as {{ dbt.type_string() }}) as customer_email,
        cast(customer_phone as {{ dbt.type_string() }}) as customer_phone,
        cast(customer_name as {{ dbt.type_string() }}) as customer_name,
        cast(country as {{ dbt.type_string() }}) as country_code,
        cast(order_date as timestamp) as ordered_at,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(amount as decimal(18, 2)) as amount,
        cast(cost as decimal(18, 2)) as cost,  -- noqa: RF04
        cast(currency as {{ dbt.type_string() }}) as currency_code,
        cast(sales_channel as {{ dbt.type_string() }}) as sales_channel,
        cast(item_count as bigint) as item_count,
        cast(updated_at as timestamp) as updated_at,
        false as is_deleted,
        _source_file as source_file,
        _load_id as load_id,
        cast(_ingested_at as timestamp) as ingested_at,
        _row_hash as row_hash
    from source

),

deduplicated as (

    {{ deduplicate_with_staged('renamed', partition_by='order_id', order_by='updated_at desc nulls last, ingested_at desc, source_file desc') }}

),

final as (

    select
        order_id,
        customer_id,
        customer_email,
        customer_phone,
        customer_name,
        country_code,
        ordered_at,
        status,
        amount,
        cost,
        currency_code,
        sales_channel,
        item_count,
        updated_at,
        is_deleted,
        source_file,
        load_id,
        ingested_at,
        row_hash
    from deduplicated

)

select * from final
