with

owners as (

    select * from {{ ref('int_owners') }}

),

final as (

    select
        cast(owner_key as {{ dbt.type_string() }}) as owner_key,
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(owner_id as {{ dbt.type_string() }}) as owner_id,
        cast(owner_name as {{ dbt.type_string() }}) as owner_name,
        cast(team_name as {{ dbt.type_string() }}) as team_name,
        cast(is_active as boolean) as is_active
    from owners

    union all

    select
        cast('unknown' as {{ dbt.type_string() }}) as owner_key,
        cast('unknown' as {{ dbt.type_string() }}) as source_system,
        cast(null as {{ dbt.type_string() }}) as owner_id,
        cast('unknown' as {{ dbt.type_string() }}) as owner_name,
        cast(null as {{ dbt.type_string() }}) as team_name,
        false as is_active

)

select * from final
