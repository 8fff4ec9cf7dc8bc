{#- How identities were resolved: per source object and rule, how many records matched,
    plus the junk keys skipped because too many records share them. -#}

with

crosswalk as (

    select * from {{ ref('int_identity__crosswalk') }}

),

edges as (

    select * from {{ ref('int_identity__edges') }}

),

customer_sizes as (

    {#- Whether a customer spans systems is whether its records' systems differ: min and max tell it
        without a distinct count per customer (1.6M customers at large). -#}
    select
        customer_key,
        count(*) as records_in_customer,
        min(source_system) <> max(source_system) as is_cross_system
    from crosswalk
    group by customer_key

),

by_rule as (

    select
        'record_match' as measure,
        crosswalk.source_system || ':' || crosswalk.source_object as subject,
        crosswalk.match_rule || ' / ' || crosswalk.assignment_rule as rule_name,
        count(*) as record_count,
        count(distinct crosswalk.customer_key) as customer_count,
        avg(cast(customer_sizes.records_in_customer as double)) as avg_records_per_customer,
        sum(case when customer_sizes.is_cross_system then 1 else 0 end) as cross_system_records
    from crosswalk
    inner join customer_sizes on crosswalk.customer_key = customer_sizes.customer_key
    group by
        crosswalk.source_system || ':' || crosswalk.source_object,
        crosswalk.match_rule || ' / ' || crosswalk.assignment_rule

),

skipped as (

    select
        'skipped_junk_key' as measure,
        edges.entity_type || ':' || edges.match_key as subject,
        edges.rule_name,
        max(edges.group_size) as record_count,
        cast(0 as bigint) as customer_count,
        cast(null as double) as avg_records_per_customer,
        cast(0 as bigint) as cross_system_records
    from edges
    where edges.is_skipped
    group by
        edges.entity_type || ':' || edges.match_key,
        edges.rule_name

),

final as (

    select
        cast(measure as {{ dbt.type_string() }}) as measure,
        cast(subject as {{ dbt.type_string() }}) as subject,
        cast(rule_name as {{ dbt.type_string() }}) as rule_name,
        cast(record_count as bigint) as record_count,
        cast(customer_count as bigint) as customer_count,
        cast(avg_records_per_customer as double) as avg_records_per_customer,
        cast(cross_system_records as bigint) as cross_system_records
    from (
        select * from by_rule
        union all
        select * from skipped
    ) as report

)

select * from final
