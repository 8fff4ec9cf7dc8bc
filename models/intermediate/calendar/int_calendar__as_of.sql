{#- The build's as-of instant: the latest moment the warehouse knows to have happened.
    var as_of_date pins it to the end of that day; otherwise it is the newest record
    modification time of the interaction sources (their data time), capped by the newest
    _ingested_at so a source clock running ahead cannot admit the future. Derived from the
    lake, never from the wall clock, so a rebuild of the same lake is reproducible. -#}
{%- if var('as_of_date') -%}
    {%- set as_of_expression = "cast(cast('" ~ var('as_of_date') ~ "' as date) as timestamp) + interval '1' day - interval '1' microsecond" -%}
{%- else -%}
    {%- set as_of_expression = "case when data_times.data_at > data_times.ingested_at then data_times.ingested_at else data_times.data_at end" -%}
{%- endif %}

with

source_times as (

    select
        max(coalesce(updated_at, created_at)) as data_at,
        max(ingested_at) as ingested_at
    from {{ ref('stg_salesforce__tasks') }}
    union all
    select
        max(coalesce(updated_at, created_at)) as data_at,
        max(ingested_at) as ingested_at
    from {{ ref('stg_salesforce__events') }}
    union all
    select
        max(coalesce(updated_at, created_at)) as data_at,
        max(ingested_at) as ingested_at
    from {{ ref('stg_hubspot__engagements') }}
    union all
    select
        max(updated_at) as data_at,
        max(ingested_at) as ingested_at
    from {{ ref('stg_contact_center__messages') }}

),

data_times as (

    select
        max(data_at) as data_at,
        max(ingested_at) as ingested_at
    from source_times

),

final as (

    select {{ as_of_expression }} as as_of_at
    from data_times

)

select * from final
