{#- Every source record that is, or stands for, a person or a company, with its match keys.
    Records only referenced by others (merged-away HubSpot ids, accounts/companies named by a
    contact but not extracted) are added as bare records so that facts naming them resolve. -#}
{%- set priority = identity_source_priority() -%}

with

sf_accounts as (

    select * from {{ ref('stg_salesforce__accounts') }}

),

hs_companies as (

    select * from {{ ref('stg_hubspot__companies') }}

),

sf_contacts as (

    select * from {{ ref('stg_salesforce__contacts') }}

),

hs_contacts as (

    select * from {{ ref('stg_hubspot__contacts') }}

),

sf_leads as (

    select * from {{ ref('stg_salesforce__leads') }}

),

orders as (

    select * from {{ ref('stg_billing__orders') }}

),

messages as (

    select * from {{ ref('stg_contact_center__messages') }}

),

links as (

    select * from {{ ref('int_identity__source_links') }}

),

company_records as (

    select
        'salesforce:account:' || account_id as record_key,
        'salesforce' as source_system,
        'account' as source_object,
        account_id as source_id,
        'company' as entity_type,
        {{ priority['salesforce:account'] }} as source_priority,
        cast(null as {{ dbt.type_string() }}) as parent_record_key,
        account_name as customer_name,
        cast(null as {{ dbt.type_string() }}) as email_key,
        {{ normalise_phone('phone') }} as phone_key,
        {{ normalise_domain('website') }} as domain_key,
        industry,
        number_of_employees,
        segment as source_segment,
        city,
        country_code,
        cast(null as {{ dbt.type_string() }}) as primary_email,
        account_source as lead_source_raw,
        case when account_source is not null then 'salesforce' end as lead_source_system,
        created_at,
        updated_at,
        is_deleted
    from sf_accounts

    union all

    select
        'hubspot:company:' || company_id as record_key,
        'hubspot' as source_system,
        'company' as source_object,
        company_id as source_id,
        'company' as entity_type,
        {{ priority['hubspot:company'] }} as source_priority,
        cast(null as {{ dbt.type_string() }}) as parent_record_key,
        company_name as customer_name,
        cast(null as {{ dbt.type_string() }}) as email_key,
        {{ normalise_phone('phone') }} as phone_key,
        {{ normalise_domain('company_domain') }} as domain_key,
        industry,
        number_of_employees,
        cast(null as {{ dbt.type_string() }}) as source_segment,
        city,
        country_code,
        cast(null as {{ dbt.type_string() }}) as primary_email,
        cast(null as {{ dbt.type_string() }}) as lead_source_raw,
        cast(null as {{ dbt.type_string() }}) as lead_source_system,
        created_at,
        updated_at,
        is_deleted
    from hs_companies

),

person_records as (

    select
        'salesforce:contact:' || contact_id as record_key,
        'salesforce' as source_system,
        'contact' as source_object,
        contact_id as source_id,
        'person' as entity_type,
        {{ priority['salesforce:contact'] }} as source_priority,
        case when account_id is not null then 'salesforce:account:' || account_id end as parent_record_key,
        coalesce(contact_name, nullif(trim(concat_ws(' ', first_name, last_name)), '')) as customer_name,
        {{ normalise_email('email') }} as email_key,
        coalesce({{ normalise_phone('phone') }}, {{ normalise_phone('mobile_phone') }}) as phone_key,
        cast(null as {{ dbt.type_string() }}) as domain_key,
        cast(null as {{ dbt.type_string() }}) as industry,
        cast(null as bigint) as number_of_employees,
        cast(null as {{ dbt.type_string() }}) as source_segment,
        city,
        country_code,
        email as primary_email,
        lead_source as lead_source_raw,
        case when lead_source is not null then 'salesforce' end as lead_source_system,
        created_at,
        updated_at,
        is_deleted
    from sf_contacts

    union all

    select
        'hubspot:contact:' || contact_id as record_key,
        'hubspot' as source_system,
        'contact' as source_object,
        contact_id as source_id,
        'person' as entity_type,
        {{ priority['hubspot:contact'] }} as source_priority,
        case when company_id is not null then 'hubspot:company:' || company_id end as parent_record_key,
        nullif(trim(concat_ws(' ', first_name, last_name)), '') as customer_name,
        {{ normalise_email('email') }} as email_key,
        coalesce({{ normalise_phone('phone') }}, {{ normalise_phone('mobile_phone') }}) as phone_key,
        cast(null as {{ dbt.type_string() }}) as domain_key,
        cast(null as {{ dbt.type_string() }}) as industry,
        cast(null as bigint) as number_of_employees,
        cast(null as {{ dbt.type_string() }}) as source_segment,
        city,
        country_code,
        email as primary_email,
        analytics_source as lead_source_raw,
        case when analytics_source is not null then 'hubspot' end as lead_source_system,
        created_at,
        updated_at,
        is_deleted
    from hs_contacts

    union all

    select
        'salesforce:lead:' || lead_id as record_key,
        'salesforce' as source_system,
        'lead' as source_object,
        lead_id as source_id,
        'person' as entity_type,
        {{ priority['salesforce:lead'] }} as source_priority,
        case when converted_account_id is not null then 'salesforce:account:' || converted_account_id end as parent_record_key,
        coalesce(lead_name, nullif(trim(concat_ws(' ', first_name, last_name)), '')) as customer_name,
        {{ normalise_email('email') }} as email_key,
        {{ normalise_phone('phone') }} as phone_key,
        cast(null as {{ dbt.type_string() }}) as domain_key,
        industry,
        cast(null as bigint) as number_of_employees,
        cast(null as {{ dbt.type_string() }}) as source_segment,
        city,
        country_code,
        email as primary_email,
        lead_source as lead_source_raw,
        case when lead_source is not null then 'salesforce' end as lead_source_system,
        created_at,
        updated_at,
        is_deleted
    from sf_leads

),

billing_customers as (

    select
        {{ billing_customer_record_key('customer_id', 'customer_email', 'customer_phone', 'order_id') }} as record_key,
        customer_name,
        customer_email,
        customer_phone,
        country_code,
        ordered_at,
        updated_at
    from orders

),

billing_records as (

    select
        record_key,
        'billing' as source_system,
        'customer' as source_object,
        substr(record_key, length('billing:customer:') + 1) as source_id,
        'person' as entity_type,
        {{ priority['billing:customer'] }} as source_priority,
        cast(null as {{ dbt.type_string() }}) as parent_record_key,
        max(customer_name) as customer_name,
        max({{ normalise_email('customer_email') }}) as email_key,
        max({{ normalise_phone('customer_phone') }}) as phone_key,
        cast(null as {{ dbt.type_string() }}) as domain_key,
        cast(null as {{ dbt.type_string() }}) as industry,
        cast(null as bigint) as number_of_employees,
        cast(null as {{ dbt.type_string() }}) as source_segment,
        cast(null as {{ dbt.type_string() }}) as city,
        max(country_code) as country_code,
        max(customer_email) as primary_email,
        cast(null as {{ dbt.type_string() }}) as lead_source_raw,
        cast(null as {{ dbt.type_string() }}) as lead_source_system,
        min(ordered_at) as created_at,
        max(updated_at) as updated_at,
        false as is_deleted
    from billing_customers
    group by record_key

),

message_customers as (

    select
        {{ message_customer_record_key('customer_email', 'customer_phone', 'customer_handle', 'thread_id') }} as record_key,
        customer_handle,
        customer_email,
        customer_phone,
        sent_at
    from messages

),

message_records as (

    select
        record_key,
        'contact_center' as source_system,
        'customer' as source_object,
        substr(record_key, length('contact_center:customer:') + 1) as source_id,
        'person' as entity_type,
        {{ priority['contact_center:customer'] }} as source_priority,
        cast(null as {{ dbt.type_string() }}) as parent_record_key,
        max(customer_handle) as customer_name,
        max({{ normalise_email('customer_email') }}) as email_key,
        max({{ normalise_phone('customer_phone') }}) as phone_key,
        cast(null as {{ dbt.type_string() }}) as domain_key,
        cast(null as {{ dbt.type_string() }}) as industry,
        cast(null as bigint) as number_of_employees,
        cast(null as {{ dbt.type_string() }}) as source_segment,
        cast(null as {{ dbt.type_string() }}) as city,
        cast(null as {{ dbt.type_string() }}) as country_code,
        max(customer_email) as primary_email,
        cast(null as {{ dbt.type_string() }}) as lead_source_raw,
        cast(null as {{ dbt.type_string() }}) as lead_source_system,
        min(sent_at) as created_at,
        max(sent_at) as updated_at,
        false as is_deleted
    from message_customers
    group by record_key

),

extracted as (

    select * from company_records
    union all
    select * from person_records
    union all
    select * from billing_records
    union all
    select * from message_records

),

referenced as (

    select distinct
        parent_record_key as record_key,
        'company' as entity_type
    from extracted
    where parent_record_key is not null

    union

    select distinct
        from_key as record_key,
        entity_type
    from links

    union

    select distinct
        to_key as record_key,
        entity_type
    from links

),

bare_records as (

    select
        referenced.record_key,
        {{ dbt.split_part('referenced.record_key', "':'", 1) }} as source_system,
        {{ dbt.split_part('referenced.record_key', "':'", 2) }} as source_object,
        substr(referenced.record_key, length({{ dbt.split_part('referenced.record_key', "':'", 1) }}) + length({{ dbt.split_part('referenced.record_key', "':'", 2) }}) + 3) as source_id,
        referenced.entity_type
    from referenced
    left join extracted on referenced.record_key = extracted.record_key
    where extracted.record_key is null

),

bare_with_attributes as (

    select
        record_key,
        source_system,
        source_object,
        source_id,
        entity_type,
        case
            {% for key, value in priority.items() -%}
                when source_system || ':' || source_object = '{{ key }}' then {{ value }}
            {% endfor -%}
            else 9
        end as source_priority,
        cast(null as {{ dbt.type_string() }}) as parent_record_key,
        cast(null as {{ dbt.type_string() }}) as customer_name,
        cast(null as {{ dbt.type_string() }}) as email_key,
        cast(null as {{ dbt.type_string() }}) as phone_key,
        cast(null as {{ dbt.type_string() }}) as domain_key,
        cast(null as {{ dbt.type_string() }}) as industry,
        cast(null as bigint) as number_of_employees,
        cast(null as {{ dbt.type_string() }}) as source_segment,
        cast(null as {{ dbt.type_string() }}) as city,
        cast(null as {{ dbt.type_string() }}) as country_code,
        cast(null as {{ dbt.type_string() }}) as primary_email,
        cast(null as {{ dbt.type_string() }}) as lead_source_raw,
        cast(null as {{ dbt.type_string() }}) as lead_source_system,
        cast(null as timestamp) as created_at,
        cast(null as timestamp) as updated_at,
        true as is_deleted
    from bare_records

),

final as (

    select
        *,
        cast(source_priority as {{ dbt.type_string() }}) || '|' || record_key as sort_key
    from (
        select * from extracted
        union all
        select * from bare_with_attributes
    ) as all_records

)

select * from final
