"""Pre-aggregations: additive building blocks of declared measures, materialised per declared grain.

Tables live in schema ``cubes_preagg`` as ``<cube>__<name>``: one column per level (named by its address)
and per building block (``cnt__<measure>`` for counts and for the denominators of means, ``sum__<measure>``
for sums and the numerators of means). The compiler routes a fact's measures to a table only when every
level and filter of the query is a column of it and every measure is rebuilt from sums of its blocks.
"""

from __future__ import annotations

import duckdb
from sqlglot import exp

from cubes.compiler import PREAGG_SCHEMA, FactScope, LevelRef, preagg_table_name
from cubes.definitions import Cube, Measure, PreAggregation, default_cubes
from cubes.engine import forget_preaggregations


def building_blocks(m: Measure, scope: FactScope) -> list[exp.Expression]:
    cond = scope.qualify(m.where) if m.where else None
    value = scope.qualify(m.value_sql) if m.value_sql else None

    def when(v: exp.Expression) -> exp.Expression:
        return exp.Case(ifs=[exp.If(this=cond.copy(), true=v)]) if cond is not None else v

    if m.aggregation == "count":
        counted = exp.Count(this=when(value if value is not None else exp.Literal.number(1)))
        return [exp.alias_(counted, f"cnt__{m.name}", quoted=True)]
    assert value is not None
    if m.aggregation == "sum":
        return [exp.alias_(exp.Sum(this=when(value)), f"sum__{m.name}", quoted=True)]
    return [
        exp.alias_(exp.Sum(this=when(exp.cast(value, "DOUBLE"))), f"sum__{m.name}", quoted=True),
        exp.alias_(exp.Count(this=when(value.copy())), f"cnt__{m.name}", quoted=True),
    ]


def preaggregation_sql(cube: Cube, pre: PreAggregation) -> exp.Select:
    fact = cube.facts[pre.fact]
    scope = FactScope(cube, fact, pre.customer_version)
    refs = [LevelRef(a, *cube.level(a)) for a in pre.levels]
    for ref in refs:
        scope.need(ref.dim, f"pre-aggregation {pre.name}")
    leaves: list[Measure] = []
    for name in pre.measures:
        for leaf in cube.leaf_measures(name):
            if leaf not in leaves:
                leaves.append(leaf)
    level_exprs = [scope.level_expr(ref) for ref in refs]
    blocks = [b for leaf in leaves for b in building_blocks(leaf, scope)]
    select = exp.select(
        *[exp.alias_(e, ref.address, quoted=True) for e, ref in zip(level_exprs, refs, strict=True)], *blocks
    )
    select = scope.from_(select)
    return select.group_by(*[e.copy() for e in level_exprs]) if level_exprs else select


def materialise(con: duckdb.DuckDBPyConnection, cubes: dict[str, Cube] | None = None) -> dict[str, int]:
    """(Re)build every declared pre-aggregation; returns rows per table."""
    cubes = cubes if cubes is not None else default_cubes()
    con.execute(f"create schema if not exists {PREAGG_SCHEMA}")
    counts: dict[str, int] = {}
    for cube in cubes.values():
        for pre in cube.preaggregations:
            name = preagg_table_name(cube, pre)
            target = exp.table_(name, db=PREAGG_SCHEMA, quoted=True)
            create = exp.Create(
                this=target, kind="TABLE", expression=preaggregation_sql(cube, pre), replace=True
            )
            con.execute(create.sql("duckdb"))
            counts[name] = con.execute(exp.select("count(*)").from_(target).sql("duckdb")).fetchall()[0][0]
    forget_preaggregations(con)
    return counts
