with

touches as (

    select * from {{ ref('int_marketing__touches') }}

),

campaigns as (

    select
        campaign_key,
        min(lead_source) as lead_source,
        min(campaign_name) as campaign_name,
        min(source_group) as source_group
    from touches
    where campaign_key <> 'unknown'
    group by campaign_key

),

final as (

    select
        cast(campaign_key as {{ dbt.type_string() }}) as campaign_key,
        cast(lead_source as {{ dbt.type_string() }}) as lead_source,
        cast(campaign_name as {{ dbt.type_string() }}) as campaign_name,
        cast(source_group as {{ dbt.type_string() }}) as source_group
    from campaigns

    union all

    select
        cast('unknown' as {{ dbt.type_string() }}) as campaign_key,
        cast('unknown' as {{ dbt.type_string() }}) as lead_source,
        cast(null as {{ dbt.type_string() }}) as campaign_name,
        cast('Other' as {{ dbt.type_string() }}) as source_group

)

select * from final
