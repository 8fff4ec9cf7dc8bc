{#- Every source record to its customer. Customers are the buying entity: a company cluster
    is a company customer; a person cluster belongs to the customer of the company one of its
    records is attached to (the company cluster with the lowest anchor if several), and is a
    person customer of its own otherwise. customer_key = hash of the anchor record key, so it
    is the same on every run while the anchor record exists. -#}

with

records as (

    select * from {{ ref('int_identity__records') }}

),

clusters as (

    select * from {{ ref('int_identity__clusters') }}

),

person_companies as (

    select
        person.cluster_anchor_key as person_anchor_key,
        min(company_anchor.sort_key) as company_anchor_sort_key
    from clusters as person
    inner join records on person.record_key = records.record_key
    inner join clusters as company on records.parent_record_key = company.record_key
    inner join records as company_anchor on company.cluster_anchor_key = company_anchor.record_key
    where person.entity_type = 'person'
    group by person.cluster_anchor_key

),

assigned as (

    select
        clusters.record_key,
        clusters.entity_type,
        clusters.cluster_anchor_key,
        clusters.is_cluster_anchor,
        clusters.match_rule,
        coalesce(company_anchor.record_key, clusters.cluster_anchor_key) as customer_anchor_key,
        case
            when clusters.entity_type = 'company' then 'company_cluster'
            when company_anchor.record_key is not null then 'company_membership'
            else 'person_cluster'
        end as assignment_rule
    from clusters
    left join person_companies on clusters.cluster_anchor_key = person_companies.person_anchor_key
    left join records as company_anchor on person_companies.company_anchor_sort_key = company_anchor.sort_key

),

final as (

    select
        {{ dbt.hash('assigned.customer_anchor_key') }} as customer_key,
        assigned.record_key,
        records.source_system,
        records.source_object,
        records.source_id,
        assigned.entity_type,
        assigned.cluster_anchor_key,
        assigned.customer_anchor_key,
        assigned.is_cluster_anchor,
        assigned.record_key = assigned.customer_anchor_key as is_customer_anchor,
        assigned.match_rule,
        assigned.assignment_rule,
        case when company_anchor.entity_type = 'company' then 'company' else 'person' end as customer_type,
        records.is_deleted
    from assigned
    inner join records on assigned.record_key = records.record_key
    inner join records as company_anchor on assigned.customer_anchor_key = company_anchor.record_key

)

select * from final
