-- Row counts of the facts tied back to staging: joins to the crosswalk, owners, channels and
-- campaigns must never multiply rows.
with

checks as (

    select
        'fct_cases' as fact,
        (select count(*) from {{ ref('fct_cases') }}) as fact_rows,
        (select count(*) from {{ ref('stg_salesforce__cases') }} where not is_deleted)
        + (select count(*) from {{ ref('stg_hubspot__tickets') }} where not is_deleted) as staged_rows
    union all
    select
        'fct_opportunities' as fact,
        (select count(*) from {{ ref('fct_opportunities') }}) as fact_rows,
        (select count(*) from {{ ref('stg_salesforce__opportunities') }} where not is_deleted)
        + (select count(*) from {{ ref('stg_hubspot__deals') }} where not is_deleted) as staged_rows
    union all
    select
        'fct_leads' as fact,
        (select count(*) from {{ ref('fct_leads') }}) as fact_rows,
        (select count(*) from {{ ref('stg_salesforce__leads') }} where not is_deleted)
        + (select count(*) from {{ ref('stg_hubspot__contacts') }} where not is_deleted) as staged_rows
    union all
    select
        'fct_orders (billing)' as fact,
        (select count(*) from {{ ref('fct_orders') }} where source_system = 'billing') as fact_rows,
        (
            select count(*) from {{ ref('stg_billing__orders') }}
            where not is_deleted
                and lower(coalesce(status, '')) not in ('cancelled', 'canceled', 'failed', 'void', 'voided')
        ) as staged_rows

)

select *
from checks
where fact_rows <> staged_rows
