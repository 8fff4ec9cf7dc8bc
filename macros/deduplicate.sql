{#- Latest version of each record (``partition_by``: its one key column): extracts overlap and repeat, so the same natural key
    arrives many times. Kept as a window + filter (no QUALIFY) so every engine runs it.
    Most keys arrive once, so only the rows of repeated keys are ranked and the others pass
    through: ranking every row sorted whole wide rows of millions of records, the slowest step
    of the large staging models. A null key is ranked with the repeated ones (the window puts
    every null key in one partition), and kept out of the NOT IN list, where a null would
    match nothing. -#}
{% macro deduplicate(relation, partition_by, order_by) -%}
    with
    repeated_keys as (
        select {{ partition_by }}
        from {{ relation }} as keyed_versions
        where {{ partition_by }} is not null
        group by {{ partition_by }}
        having count(*) > 1
    )

    select
        *,
        1 as dedupe_rank
    from {{ relation }} as single_versions
    where {{ partition_by }} is not null
        and {{ partition_by }} not in (select repeated_keys.{{ partition_by }} from repeated_keys)
    union all
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ partition_by }}
                order by {{ order_by }}
            ) as dedupe_rank
        from {{ relation }} as repeated_versions
        where {{ partition_by }} is null
            or {{ partition_by }} in (select repeated_keys.{{ partition_by }} from repeated_keys)
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
