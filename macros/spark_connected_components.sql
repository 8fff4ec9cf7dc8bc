{#- Spark: recursive CTEs accept only UNION ALL, which never reaches a fixpoint on an undirected
    graph (every edge is a cycle). Instead every node starts with its own sort key and takes the
    smallest key among itself and its neighbours, for a fixed number of rounds unrolled at compile
    time (each round reads the previous one once, so the plan grows linearly); that labels each
    component with its smallest sort key once the rounds reach the component's diameter. A wider
    component would be split, so the last step fails the build with raise_error instead. -#}
{% macro spark__connected_components(nodes, edges, rounds=32) -%}
    with
    neighbourhood as (
        select from_key, to_key from {{ edges }}
        union
        select to_key as from_key, from_key as to_key from {{ edges }}
        union
        select node_key as from_key, node_key as to_key from {{ nodes }}
    ),

    labels_0 as (
        select node_key, sort_key as component_sort_key from {{ nodes }}
    ),
    {%- for round in range(1, rounds + 1) %}

    labels_{{ round }} as (
        select
            neighbourhood.from_key as node_key,
            min(labels.component_sort_key) as component_sort_key
        from labels_{{ round - 1 }} as labels
        inner join neighbourhood on labels.node_key = neighbourhood.to_key
        group by neighbourhood.from_key
    ),
    {%- endfor %}

    edges_across_components as (
        select count(*) as edge_count
        from neighbourhood
        inner join labels_{{ rounds }} as from_labels on neighbourhood.from_key = from_labels.node_key
        inner join labels_{{ rounds }} as to_labels on neighbourhood.to_key = to_labels.node_key
        where from_labels.component_sort_key <> to_labels.component_sort_key
    )

    select
        labels.node_key,
        case
            when edges_across_components.edge_count = 0 then labels.component_sort_key
            else raise_error('connected_components: a component is wider than {{ rounds }} edges; raise the rounds of spark__connected_components')
        end as component_sort_key
    from labels_{{ rounds }} as labels
    cross join edges_across_components
{%- endmacro %}
