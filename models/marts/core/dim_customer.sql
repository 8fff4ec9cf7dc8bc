{#- Type-2 customer dimension from the snapshot of the resolved customer. The first version
    of a customer is valid from when it was first seen (earliest record creation or payment, so
    facts before the first snapshot and before the acquisition = first payment find it);
    later versions from the snapshot time. Plus the 'unknown' member for unresolved facts. -#}

with

snapshot as (

    select * from {{ ref('snp_customers') }}

),

versions as (

    select
        *,
        row_number() over (partition by customer_key order by dbt_valid_from) as version_number
    from snapshot

),

customers as (

    select
        cast(dbt_scd_id as varchar) as customer_version_key,
        cast(customer_key as varchar) as customer_key,
        cast(customer_name as varchar) as customer_name,
        cast(customer_type as varchar) as customer_type,
        cast(segment as varchar) as segment,
        cast(industry as varchar) as industry,
        cast(size_band as varchar) as size_band,
        cast(city as varchar) as city,
        cast(country_code as varchar) as country_code,
        cast(country_name as varchar) as country_name,
        cast(region as varchar) as region,
        cast(acquisition_date as date) as acquisition_date,
        cast({{ dbt.date_trunc('month', 'acquisition_date') }} as date) as acquisition_month,
        cast(
            cast(extract(year from acquisition_date) as varchar) || '-Q' || cast(extract(quarter from acquisition_date) as varchar)
            as varchar
        ) as acquisition_quarter,
        cast(acquisition_channel as varchar) as acquisition_channel,
        cast(acquisition_source as varchar) as acquisition_source,
        cast(primary_email as varchar) as primary_email,
        cast(
            case
                when version_number = 1 and first_seen_at is not null
                    and first_seen_at < dbt_valid_from
                    then first_seen_at
                else dbt_valid_from
            end
            as timestamp
        ) as valid_from,
        cast(dbt_valid_to as timestamp) as valid_to,
        dbt_valid_to is null as is_current
    from versions

),

unknown_member as (

    select
        cast('unknown' as varchar) as customer_version_key,
        cast('unknown' as varchar) as customer_key,
        cast('unknown' as varchar) as customer_name,
        cast('person' as varchar) as customer_type,
        cast('Consumer' as varchar) as segment,
        cast(null as varchar) as industry,
        cast('unknown' as varchar) as size_band,
        cast(null as varchar) as city,
        cast(null as varchar) as country_code,
        cast(null as varchar) as country_name,
        cast('unknown' as varchar) as region,
        cast(null as date) as acquisition_date,
        cast(null as date) as acquisition_month,
        cast(null as varchar) as acquisition_quarter,
        cast('unknown' as varchar) as acquisition_channel,
        cast('unknown' as varchar) as acquisition_source,
        cast(null as varchar) as primary_email,
        cast('1900-01-01' as timestamp) as valid_from,
        cast(null as timestamp) as valid_to,
        true as is_current

),

final as (

    select * from customers
    union all
    select * from unknown_member

)

select * from final
