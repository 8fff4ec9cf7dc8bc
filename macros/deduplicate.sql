{#- Latest version of each record: extracts overlap and repeat, so the same natural key
    arrives many times. Kept as a window + filter (no QUALIFY) so every engine runs it. -#}
{% macro deduplicate(relation, partition_by, order_by) -%}
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ partition_by }}
                order by {{ order_by }}
            ) as dedupe_rank
        from {{ relation }}
    ) as ranked
    where dedupe_rank = 1
{%- endmacro %}
