-- The engine's connected components (duckdb__: label propagation) against the portable default__
-- (reach closure) on a hand-made graph: a chain whose lowest node sits in the middle (five rounds),
-- a cycle, a star, a self-loop, a repeated edge, two chains bridged late, isolated nodes.
-- Disabled on Spark, which has no recursive CTE to run default__ with (spark__ propagates labels in fixed rounds).
{{ config(enabled=(target.type != 'spark') | as_bool) }}

with

nodes as (

    select
        node_key,
        sort_key
    from (
        values
        ('c1', '5'), ('c2', '4'), ('c3', '9'), ('c4', '0'), ('c5', '8'), ('c6', '7'), ('c7', '6'),
        ('y1', 'b'), ('y2', 'a'), ('y3', 'c'),
        ('s0', 'z'), ('s1', 'd'), ('s2', 'e'), ('s3', 'f'),
        ('l1', 'g'),
        ('b1', 'h'), ('b2', 'i'), ('b3', 'j'), ('b4', 'k'), ('b5', 'l'),
        ('i1', 'm'), ('i2', 'n')
    ) as graph_nodes (node_key, sort_key)

),

graph_edges as (

    select
        from_key,
        to_key
    from (
        values
        ('c1', 'c2'), ('c2', 'c3'), ('c3', 'c4'), ('c5', 'c4'), ('c5', 'c6'), ('c6', 'c7'),
        ('y1', 'y2'), ('y2', 'y3'), ('y3', 'y1'),
        ('s0', 's1'), ('s0', 's2'), ('s3', 's0'),
        ('l1', 'l1'),
        ('b1', 'b2'), ('b2', 'b3'), ('b4', 'b5'), ('b3', 'b5'), ('b3', 'b5')
    ) as graph_edge_rows (from_key, to_key)

),

engine_components as (

    {{ connected_components('nodes', 'graph_edges') }}

),

portable_components as (

    {{ crmwh.default__connected_components('nodes', 'graph_edges') }}

),

only_in_engine as (

    select
        'engine' as found_in,
        node_key,
        component_sort_key
    from (
        select * from engine_components
        except all
        select * from portable_components
    ) as engine_rows

),

only_in_portable as (

    select
        'portable' as found_in,
        node_key,
        component_sort_key
    from (
        select * from portable_components
        except all
        select * from engine_components
    ) as portable_rows

),

final as (

    select * from only_in_engine
    union all
    select * from only_in_portable

)

select * from final
