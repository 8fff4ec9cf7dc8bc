with

owners as (

    select * from {{ ref('int_owners') }}

),

final as (

    select
        cast(owner_key as varchar) as owner_key,
        cast(source_system as varchar) as source_system,
        cast(owner_id as varchar) as owner_id,
        cast(owner_name as varchar) as owner_name,
        cast(team_name as varchar) as team_name,
        cast(is_active as boolean) as is_active
    from owners

    union all

    select
        cast('unknown' as varchar) as owner_key,
        cast('unknown' as varchar) as source_system,
        cast(null as varchar) as owner_id,
        cast('unknown' as varchar) as owner_name,
        cast(null as varchar) as team_name,
        false as is_active

)

select * from final
