with

crosswalk as (

    select * from {{ ref('int_identity__crosswalk') }}

),

final as (

    select
        cast(record_key as {{ dbt.type_string() }}) as record_key,
        cast(customer_key as {{ dbt.type_string() }}) as customer_key,
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(source_object as {{ dbt.type_string() }}) as source_object,
        cast(source_id as {{ dbt.type_string() }}) as source_id,
        cast(entity_type as {{ dbt.type_string() }}) as entity_type,
        cast(customer_type as {{ dbt.type_string() }}) as customer_type,
        cast(match_rule as {{ dbt.type_string() }}) as match_rule,
        cast(assignment_rule as {{ dbt.type_string() }}) as assignment_rule,
        cast(is_customer_anchor as boolean) as is_customer_anchor,
        cast(is_deleted as boolean) as is_deleted
    from crosswalk

)

select * from final
