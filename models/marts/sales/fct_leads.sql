with

leads as (

    select * from {{ ref('int_leads__unioned') }}

),

opportunities as (

    select opportunity_id from {{ ref('int_opportunities__unioned') }}

),

final as (

    select
        cast(leads.lead_id as {{ dbt.type_string() }}) as lead_id,
        cast(leads.source_system as {{ dbt.type_string() }}) as source_system,
        cast(leads.customer_key as {{ dbt.type_string() }}) as customer_key,
        cast(leads.owner_key as {{ dbt.type_string() }}) as owner_key,
        cast(leads.campaign_key as {{ dbt.type_string() }}) as campaign_key,
        cast(leads.created_at as timestamp) as created_at,
        cast(leads.created_at as date) as created_date,
        cast(leads.is_converted as boolean) as is_converted,
        cast(leads.converted_date as date) as converted_date,
        cast({{ dbt.datediff('cast(leads.created_at as date)', 'leads.converted_date', 'day') }} as integer) as days_to_conversion,
        cast(opportunities.opportunity_id as {{ dbt.type_string() }}) as converted_opportunity_id,
        opportunities.opportunity_id is not null as has_opportunity,
        cast(leads.status as {{ dbt.type_string() }}) as status
    from leads
    left join opportunities on leads.converted_opportunity_id = opportunities.opportunity_id

)

select * from final
