{#- One row per customer with its golden attributes, each taken from the record the
    survivorship rule of survivorship_rules() designates. Deleted records only contribute
    when a customer has nothing else. Acquired = first paid (NULL for prospects who never paid);
    first seen = the earliest record creation or payment. -#}
{%- set rules = survivorship_rules() -%}

with

crosswalk as (

    select * from {{ ref('int_identity__crosswalk') }}

),

records as (

    select * from {{ ref('int_identity__records') }}

),

first_payments as (

    {#- A customer is acquired when they first pay: the first revenue event (billing order or won
        deal) of int_orders__unioned; refunds are money going back, not a payment. -#}
    select
        customer_key,
        min(ordered_at) as first_paid_at
    from {{ ref('int_orders__unioned') }}
    where not is_refund
        and ordered_at is not null
        and customer_key != 'unknown'
    group by customer_key

),

customer_records as (

    {#- Each survivorship strategy orders a customer's records by a sort key; min_by over it picks
        the surviving value in one aggregate pass (no window ranking). Struct fields compare in
        order and NULL compares last, so a missing updated_at/created_at sorts last. -#}
    select
        crosswalk.customer_key,
        crosswalk.customer_type,
        records.*,
        {{ sort_key([
            ('is_deleted', 'records.is_deleted'),
            ('is_other_type', 'not coalesce(records.entity_type = crosswalk.customer_type, false)'),
            ('source_priority', 'records.source_priority'),
            ('newest_first', '-' ~ epoch_microseconds('records.updated_at')),
            ('record_key', 'records.record_key'),
        ]) }} as priority_order,
        {{ sort_key([
            ('is_deleted', 'records.is_deleted'),
            ('is_other_type', 'not coalesce(records.entity_type = crosswalk.customer_type, false)'),
            ('newest_first', '-' ~ epoch_microseconds('records.updated_at')),
            ('source_priority', 'records.source_priority'),
            ('record_key', 'records.record_key'),
        ]) }} as recency_order,
        {{ sort_key([
            ('created_at', 'records.created_at'),
            ('source_priority', 'records.source_priority'),
            ('record_key', 'records.record_key'),
        ]) }} as age_order
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
        cast(first_payments.first_paid_at as date) as acquisition_date,
        cast(
            case
                when first_payments.first_paid_at < survived.first_created_at or survived.first_created_at is null
                    then first_payments.first_paid_at
                else survived.first_created_at
            end
            as timestamp
        ) as first_seen_at,
        coalesce(lead_sources.channel_name, 'unknown') as acquisition_channel,
        coalesce(lead_sources.lead_source, case when survived.lead_source_raw is not null then 'Other' else 'unknown' end) as acquisition_source,
        survived.primary_email
    from survived
    left join first_payments on survived.customer_key = first_payments.customer_key
    left join lead_sources
        on survived.lead_source_system = lead_sources.source_system
            and survived.lead_source_raw = lead_sources.source_value
    left join countries on survived.country_code = countries.country_code

)

select * from final
