with

crosswalk as (

    select * from {{ ref('int_identity__crosswalk') }}

),

final as (

    select
        cast(record_key as varchar) as record_key,
        cast(customer_key as varchar) as customer_key,
        cast(source_system as varchar) as source_system,
        cast(source_object as varchar) as source_object,
        cast(source_id as varchar) as source_id,
        cast(entity_type as varchar) as entity_type,
        cast(customer_type as varchar) as customer_type,
        cast(match_rule as varchar) as match_rule,
        cast(assignment_rule as varchar) as assignment_rule,
        cast(is_customer_anchor as boolean) as is_customer_anchor,
        cast(is_deleted as boolean) as is_deleted
    from crosswalk

)

select * from final
