{#- One row per customer with its golden attributes, each taken from the record the
    survivorship rule of survivorship_rules() designates. Deleted records only contribute
    when a customer has nothing else. -#}
{%- set rules = survivorship_rules() -%}

with

crosswalk as (

    select * from {{ ref('int_identity__crosswalk') }}

),

records as (

    select * from {{ ref('int_identity__records') }}

),

first_orders as (

    select
        crosswalk.customer_key,
        min(orders.ordered_at) as first_ordered_at
    from {{ ref('stg_billing__orders') }} as orders
    inner join crosswalk
        on crosswalk.record_key = {{ billing_customer_record_key('orders.customer_id', 'orders.customer_email', 'orders.customer_phone', 'orders.order_id') }}
    group by crosswalk.customer_key

),

customer_records as (

    select
        crosswalk.customer_key,
        crosswalk.customer_type,
        records.*,
        row_number() over (
            partition by crosswalk.customer_key
            order by
                records.is_deleted, case when records.entity_type = crosswalk.customer_type then 0 else 1 end,
                records.source_priority, records.updated_at desc nulls last, records.record_key
        ) as priority_rank,
        row_number() over (
            partition by crosswalk.customer_key
            order by
                records.is_deleted, case when records.entity_type = crosswalk.customer_type then 0 else 1 end,
                records.updated_at desc nulls last, records.source_priority, records.record_key
        ) as recency_rank,
        row_number() over (
            partition by crosswalk.customer_key
            order by records.created_at nulls last, records.source_priority, records.record_key
        ) as age_rank
    from crosswalk
    inner join records on crosswalk.record_key = records.record_key

),

survived as (

    select
        customer_key,
        max(customer_type) as customer_type,
        {%- for attribute, strategy in rules.items() %}
            {{ survive(attribute, strategy) }} as {{ attribute }},
        {%- endfor %}
        min(created_at) as first_created_at
    from customer_records
    group by customer_key

),

lead_sources as (

    select * from {{ ref('lead_source_mapping') }}

),

countries as (

    select * from {{ ref('country_regions') }}

),

final as (

    select
        survived.customer_key,
        coalesce(survived.customer_name, 'unknown') as customer_name,
        survived.customer_type,
        case
            when survived.customer_type = 'person' then 'Consumer'
            when survived.source_segment in ('Enterprise', 'Mid-Market', 'SMB') then survived.source_segment
            when survived.number_of_employees >= 1000 then 'Enterprise'
            when survived.number_of_employees >= 200 then 'Mid-Market'
            else 'SMB'
        end as segment,
        survived.industry,
        case
            when survived.number_of_employees is null then 'unknown'
            when survived.number_of_employees <= 10 then '1-10'
            when survived.number_of_employees <= 50 then '11-50'
            when survived.number_of_employees <= 200 then '51-200'
            when survived.number_of_employees <= 1000 then '201-1000'
            else '1000+'
        end as size_band,
        survived.city,
        survived.country_code,
        countries.country_name,
        coalesce(countries.region, 'unknown') as region,
        cast(
            case
                when first_orders.first_ordered_at < survived.first_created_at or survived.first_created_at is null
                    then first_orders.first_ordered_at
                else survived.first_created_at
            end
            as date
        ) as acquisition_date,
        coalesce(lead_sources.channel_name, 'unknown') as acquisition_channel,
        coalesce(lead_sources.lead_source, case when survived.lead_source_raw is not null then 'Other' else 'unknown' end) as acquisition_source,
        survived.primary_email
    from survived
    left join first_orders on survived.customer_key = first_orders.customer_key
    left join lead_sources
        on survived.lead_source_system = lead_sources.source_system
            and survived.lead_source_raw = lead_sources.source_value
    left join countries on survived.country_code = countries.country_code

)

select * from final
