{#- Type-2 customer dimension from the history of the resolved customer (customer_history). The first version
    of a customer is valid from when it was first seen (earliest record creation or payment, so
    facts before the first snapshot and before the acquisition = first payment find it);
    later versions from the snapshot time. Plus the 'unknown' member for unresolved facts. -#}

with

snapshot as (

    {{ customer_history() }}

),

versions as (

    select
        *,
        row_number() over (partition by customer_key order by dbt_valid_from) as version_number
    from snapshot

),

customers as (

    select
        cast(dbt_scd_id as {{ dbt.type_string() }}) as customer_version_key,
        cast(customer_key as {{ dbt.type_string() }}) as customer_key,
        cast(customer_name as {{ dbt.type_string() }}) as customer_name,
        cast(customer_type as {{ dbt.type_string() }}) as customer_type,
        cast(segment as {{ dbt.type_string() }}) as segment,
        cast(industry as {{ dbt.type_string() }}) as industry,
        cast(size_band as {{ dbt.type_string() }}) as size_band,
        cast(city as {{ dbt.type_string() }}) as city,
        cast(country_code as {{ dbt.type_string() }}) as country_code,
        cast(country_name as {{ dbt.type_string() }}) as country_name,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(acquisition_date as date) as acquisition_date,
        cast({{ dbt.date_trunc('month', 'acquisition_date') }} as date) as acquisition_month,
        cast(
            cast(extract(year from acquisition_date) as {{ dbt.type_string() }}) || '-Q' || cast(extract(quarter from acquisition_date) as {{ dbt.type_string() }})
            as {{ dbt.type_string() }}
        ) as acquisition_quarter,
        cast(acquisition_channel as {{ dbt.type_string() }}) as acquisition_channel,
        cast(acquisition_source as {{ dbt.type_string() }}) as acquisition_source,
        cast(primary_email as {{ dbt.type_string() }}) as primary_email,
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
        cast('unknown' as {{ dbt.type_string() }}) as customer_version_key,
        cast('unknown' as {{ dbt.type_string() }}) as customer_key,
        cast('unknown' as {{ dbt.type_string() }}) as customer_name,
        cast('person' as {{ dbt.type_string() }}) as customer_type,
        cast('Consumer' as {{ dbt.type_string() }}) as segment,
        cast(null as {{ dbt.type_string() }}) as industry,
        cast('unknown' as {{ dbt.type_string() }}) as size_band,
        cast(null as {{ dbt.type_string() }}) as city,
        cast(null as {{ dbt.type_string() }}) as country_code,
        cast(null as {{ dbt.type_string() }}) as country_name,
        cast('unknown' as {{ dbt.type_string() }}) as region,
        cast(null as date) as acquisition_date,
        cast(null as date) as acquisition_month,
        cast(null as {{ dbt.type_string() }}) as acquisition_quarter,
        cast('unknown' as {{ dbt.type_string() }}) as acquisition_channel,
        cast('unknown' as {{ dbt.type_string() }}) as acquisition_source,
        cast(null as {{ dbt.type_string() }}) as primary_email,
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
