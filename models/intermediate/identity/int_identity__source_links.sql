{#- Explicit links between records written by the sources themselves: Salesforce merges
    (master_record_id), HubSpot merges (merge audit, hs_merged_object_ids) and Salesforce lead
    conversions. One row per (record, linked record, rule). -#}

with

sf_accounts as (

    select * from {{ ref('stg_salesforce__accounts') }}

),

sf_contacts as (

    select * from {{ ref('stg_salesforce__contacts') }}

),

sf_leads as (

    select * from {{ ref('stg_salesforce__leads') }}

),

hs_contacts as (

    select * from {{ ref('stg_hubspot__contacts') }}

),

hs_companies as (

    select * from {{ ref('stg_hubspot__companies') }}

),

merge_audits as (

    select * from {{ ref('stg_hubspot__contact_merge_audits') }}

),

salesforce_masters as (

    select
        'account' as source_object,
        'company' as entity_type,
        account_id as source_id,
        master_record_id
    from sf_accounts
    where master_record_id is not null
    union all
    select
        'contact' as source_object,
        'person' as entity_type,
        contact_id as source_id,
        master_record_id
    from sf_contacts
    where master_record_id is not null
    union all
    select
        'lead' as source_object,
        'person' as entity_type,
        lead_id as source_id,
        master_record_id
    from sf_leads
    where master_record_id is not null

),

hubspot_merged_lists as (

    select
        'contact' as source_object,
        contact_id as source_id,
        merged_object_ids
    from hs_contacts
    where merged_object_ids is not null
    union all
    select
        'company' as source_object,
        company_id as source_id,
        merged_object_ids
    from hs_companies
    where merged_object_ids is not null

),

hubspot_merged_ids as (

    select
        hubspot_merged_lists.source_object,
        hubspot_merged_lists.source_id,
        trim(merged.merged_id) as merged_id
    from hubspot_merged_lists
    {{ join_split_items('hubspot_merged_lists.merged_object_ids', ';', 'merged', 'merged_id') }}

),

final as (

    select
        'salesforce:' || source_object || ':' || source_id as from_key,
        'salesforce:' || source_object || ':' || master_record_id as to_key,
        entity_type,
        source_object,
        master_record_id,
        'salesforce_master_record' as rule_name
    from salesforce_masters

    union all

    select
        'hubspot:contact:' || merged_contact_id as from_key,
        'hubspot:contact:' || canonical_contact_id as to_key,
        'person' as entity_type,
        'contact' as source_object,
        cast(null as {{ dbt.type_string() }}) as master_record_id,
        'hubspot_merge' as rule_name
    from merge_audits
    where merged_contact_id <> canonical_contact_id

    union all

    select
        'hubspot:' || source_object || ':' || merged_id as from_key,
        'hubspot:' || source_object || ':' || source_id as to_key,
        case when source_object = 'contact' then 'person' else 'company' end as entity_type,
        source_object,
        cast(null as {{ dbt.type_string() }}) as master_record_id,
        'hubspot_merge' as rule_name
    from hubspot_merged_ids
    where merged_id <> '' and merged_id <> source_id

    union all

    select
        'salesforce:lead:' || lead_id as from_key,
        'salesforce:contact:' || converted_contact_id as to_key,
        'person' as entity_type,
        'lead' as source_object,
        cast(null as {{ dbt.type_string() }}) as master_record_id,
        'lead_conversion' as rule_name
    from sf_leads
    where converted_contact_id is not null

)

select * from final
