{#- People and companies clustered into identities (connected components of the identity
    graph without skipped junk keys). cluster_anchor_key is the cluster's record with the
    lowest source priority, then lowest record key. The directive below stops sqlfluff from failing
    on DuckDB's recursive CTE USING KEY, which duckdb__connected_components expands to and its
    parser does not know; unable to parse the macro, it would also call nodes and graph_edges unused
    (hence their noqa). -#}
-- sqlfluff:ignore:parsing

with

records as (

    select * from {{ ref('int_identity__records') }}

),

edges as (

    select * from {{ ref('int_identity__edges') }}
    where not is_skipped

),

nodes as (  -- noqa: ST03

    select
        record_key as node_key,
        sort_key
    from records

),

graph_edges as (  -- noqa: ST03

    select
        from_key,
        to_key
    from edges

),

components as (

    {{ connected_components('nodes', 'graph_edges') }}

),

best_rule as (

    select
        record_key,
        min(rule_order) as rule_order
    from (
        select
            from_key as record_key,
            rule_order
        from edges
        union all
        select
            to_key as record_key,
            rule_order
        from edges
    ) as incident
    group by record_key

),

rule_names as (

    select distinct
        rule_order,
        rule_name
    from edges

),

final as (

    select
        records.record_key,
        records.entity_type,
        anchor.record_key as cluster_anchor_key,
        records.record_key = anchor.record_key as is_cluster_anchor,
        coalesce(rule_names.rule_name, 'unmatched') as match_rule
    from records
    inner join components on records.record_key = components.node_key
    inner join records as anchor on components.component_sort_key = anchor.sort_key
    left join best_rule on records.record_key = best_rule.record_key
    left join rule_names on best_rule.rule_order = rule_names.rule_order

)

select * from final
