{#- Everyone who owns records or answers customers: Salesforce users, HubSpot owners and
    contact-center agents (known only by their id in the messages). -#}

with

sf_users as (

    select * from {{ ref('stg_salesforce__users') }}

),

hs_owners as (

    select * from {{ ref('stg_hubspot__owners') }}

),

messages as (

    select * from {{ ref('stg_contact_center__messages') }}

),

final as (

    select
        'salesforce:' || user_id as owner_key,
        'salesforce' as source_system,
        user_id as owner_id,
        coalesce(user_name, nullif(trim(concat_ws(' ', first_name, last_name)), ''), user_id) as owner_name,
        department as team_name,
        coalesce(is_active, true) as is_active
    from sf_users

    union all

    select
        'hubspot:' || owner_id as owner_key,
        'hubspot' as source_system,
        owner_id,
        coalesce(nullif(trim(concat_ws(' ', first_name, last_name)), ''), email, owner_id) as owner_name,
        team_name,
        not coalesce(is_archived, false) as is_active
    from hs_owners

    union all

    select distinct
        'contact_center:' || agent_id as owner_key,
        'contact_center' as source_system,
        agent_id as owner_id,
        agent_id as owner_name,
        cast(null as {{ dbt.type_string() }}) as team_name,
        true as is_active
    from messages
    where agent_id is not null

)

select * from final
