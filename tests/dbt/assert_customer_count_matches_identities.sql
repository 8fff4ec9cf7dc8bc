-- One current dim_customer row per resolved identity (plus the unknown member), no more, no less.
with

identities as (

    select count(distinct customer_key) as identity_count from {{ ref('int_identity__crosswalk') }}

),

resolved as (

    select count(*) as resolved_count from {{ ref('int_customers__resolved') }}

),

current_customers as (

    select count(*) as current_count
    from {{ ref('dim_customer') }}
    where is_current and customer_key <> 'unknown'

)

select *
from identities
cross join resolved
cross join current_customers
where identity_count <> resolved_count
    or identity_count <> current_count
