-- Won amount per source and currency in fct_opportunities equals the staged won amount of
-- live (not deleted) opportunities and deals.
with

staged as (

    select 'salesforce' as source_system, currency_code, sum(amount) as won_amount
    from {{ ref('stg_salesforce__opportunities') }}
    where is_won and not is_deleted
    group by 1, 2
    union all
    select 'hubspot' as source_system, coalesce(currency_code, '{{ var('reporting_currency') }}') as currency_code, sum(amount) as won_amount
    from {{ ref('stg_hubspot__deals') }}
    where coalesce(is_closed_won, deal_stage = 'closedwon') and not is_deleted
    group by 1, 2

),

facts as (

    select source_system, currency_code, sum(amount) as won_amount
    from {{ ref('fct_opportunities') }}
    where is_won
    group by 1, 2

)

select
    coalesce(staged.source_system, facts.source_system) as source_system,
    coalesce(staged.currency_code, facts.currency_code) as currency_code,
    staged.won_amount as staged_won_amount,
    facts.won_amount as fact_won_amount
from staged
full outer join facts
    on staged.source_system = facts.source_system
    and staged.currency_code = facts.currency_code
where coalesce(staged.won_amount, 0) <> coalesce(facts.won_amount, 0)
