{#- The type-2 history of the resolved customer that dim_customer reads, in the columns of a dbt
    snapshot (dbt_scd_id, dbt_valid_from, dbt_valid_to). Where dbt snapshots run (DuckDB; Spark
    with a Delta/Iceberg catalog) it is the snapshot snp_customers. -#}
{% macro customer_history() -%}
    {{ return(adapter.dispatch('customer_history', 'crmwh')()) }}
{%- endmacro %}

{% macro default__customer_history() -%}
    select * from {{ ref('snp_customers') }}
{%- endmacro %}

{#- Plain Spark tables cannot be merged into, so dbt snapshots are disabled there
    (dbt_project.yml). The history a build can see is the resolved customer as of this run: one
    open version per customer, valid from the run start, keyed the way the check-strategy snapshot
    keys a version (md5 of the unique key and the version's start). Earlier versions are not
    kept from run to run. -#}
{% macro spark__customer_history() -%}
    {%- set run_started = "cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f') ~ "' as timestamp)" -%}
    select
        resolved.*,
        md5(coalesce(cast(resolved.customer_key as string), '') || '|' || cast({{ run_started }} as string)) as dbt_scd_id,
        {{ run_started }} as dbt_updated_at,
        {{ run_started }} as dbt_valid_from,
        cast(null as timestamp) as dbt_valid_to
    from {{ ref('int_customers__resolved') }} as resolved
{%- endmacro %}
