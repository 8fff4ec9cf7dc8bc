{%- set sla = var('sla_first_response_seconds') -%}

with

taxonomy as (

    select * from {{ ref('channel_taxonomy') }}

),

final as (

    select
        cast(channel_name as {{ dbt.type_string() }}) as channel_key,
        cast(channel_name as {{ dbt.type_string() }}) as channel_name,
        cast(channel_group as {{ dbt.type_string() }}) as channel_group,
        cast(is_inbound_capable as boolean) as is_inbound_capable,
        cast(is_outbound_capable as boolean) as is_outbound_capable,
        cast(is_asynchronous as boolean) as is_asynchronous,
        cast(
            case channel_name
                {%- for channel, seconds in sla.items() %}
                    when '{{ channel }}' then {{ seconds | int }}
                {%- endfor %}
                else {{ var('sla_default_first_response_seconds') | int }}
            end
            as integer
        ) as sla_first_response_seconds
    from taxonomy

)

select * from final
