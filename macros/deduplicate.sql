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

{#- Incremental staging of a large lake object: a run reads only the versions landed after the
    latest one already staged (parquet row groups of older loads are skipped on _ingested_at),
    and ranks them together with the staged row of the same keys, so the survivor is the one a
    full rebuild would pick. Rebuilds everything on --full-refresh or the first run. -#}
{% macro landed_since_last_run(ingested_at_column='_ingested_at') -%}
    {%- if is_incremental() %}
    where cast({{ ingested_at_column }} as timestamp) > (select coalesce(max(ingested_at), cast('1900-01-01' as timestamp)) from {{ this }})
    {%- endif %}
{%- endmacro %}

{% macro deduplicate_with_staged(relation, partition_by, order_by) -%}
    {%- if is_incremental() -%}
    {%- set candidates -%}
        (
            select * from {{ relation }}
            union all by name
            select * from {{ this }}
            where {{ partition_by }} in (select {{ partition_by }} from {{ relation }})
        )
    {%- endset -%}
    {{ deduplicate(candidates, partition_by, order_by) }}
    {%- else -%}
    {{ deduplicate(relation, partition_by, order_by) }}
    {%- endif -%}
{%- endmacro %}
