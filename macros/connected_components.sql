{#- Connected components of an undirected graph in plain SQL: every node reaches itself,
    then walks edges until nothing new is reached (recursive UNION stops on a fixpoint).
    Each node's component is labelled with the smallest sort key it reaches, so the label
    is deterministic and does not depend on run order. `nodes` has (node_key, sort_key);
    `edges` has (from_key, to_key). -#}
{% macro connected_components(nodes, edges) -%}
    {{ return(adapter.dispatch('connected_components', 'crmwh')(nodes, edges)) }}
{%- endmacro %}

{% macro default__connected_components(nodes, edges) -%}
    with recursive
    undirected as (
        select from_key, to_key from {{ edges }}
        union
        select to_key as from_key, from_key as to_key from {{ edges }}
    ),

    reach (node_key, reached_key) as (
        select node_key, node_key as reached_key from {{ nodes }}
        union
        select
            reach.node_key,
            undirected.to_key as reached_key
        from reach
        inner join undirected on reach.reached_key = undirected.from_key
    )

    select
        reach.node_key,
        min(reached.sort_key) as component_sort_key
    from reach
    inner join {{ nodes }} as reached on reach.reached_key = reached.node_key
    group by reach.node_key
{%- endmacro %}
