"""One SQL view per cube in schema ``cubes``, at the base grain of its facts, for BI and SQL users.

Each row is one fact row (column ``fact`` names which fact), with every level of the dimensions that apply
to that fact (``<dimension>_<level>``, customers as at fact time) and the additive building blocks of the
cube's measures: ``<measure>`` for counts (1/0) and sums (the value or NULL), and ``<measure>_sum`` /
``<measure>_count`` for means. Summing them over any grouping gives the engine's counts and sums, and
ratios of those sums give the engine's ratios. Distinct counts, medians and percentiles need the fact
columns and the cube engine, so they have no building block here.
"""

from __future__ import annotations

import duckdb
from sqlglot import exp

from cubes.compiler import FactScope, LevelRef
from cubes.definitions import Cube, Measure, default_cubes

VIEW_SCHEMA = "cubes"


def _blocks(m: Measure, scope: FactScope) -> dict[str, exp.Expression]:
    cond = scope.qualify(m.where) if m.where else None
    value = scope.qualify(m.value_sql) if m.value_sql else None

    def when(v: exp.Expression, otherwise: exp.Expression | None = None) -> exp.Expression:
        if cond is None:
            return v
        case = exp.Case(ifs=[exp.If(this=cond.copy(), true=v)])
        return case.else_(otherwise) if otherwise is not None else case

    zero, one = exp.Literal.number(0), exp.Literal.number(1)
    if m.aggregation == "count":
        if value is None:
            return {m.name: when(one, zero)}
        return {
            m.name: exp.Case(
                ifs=[exp.If(this=exp.Not(this=exp.Is(this=when(value), expression=exp.Null())), true=one)]
            ).else_(zero)
        }
    assert value is not None
    if m.aggregation == "sum":
        return {m.name: when(value)}
    if m.aggregation == "avg":
        v = when(exp.cast(value, "DOUBLE"))
        return {
            f"{m.name}_sum": v,
            f"{m.name}_count": exp.Case(
                ifs=[exp.If(this=exp.Not(this=exp.Is(this=v.copy(), expression=exp.Null())), true=one)]
            ).else_(zero),
        }
    return {}


def view_sql(cube: Cube) -> exp.Expression:
    """UNION ALL of the facts with one column list (NULL where a column does not apply)."""
    per_fact: list[tuple[str, dict[str, exp.Expression]]] = []
    all_columns: list[str] = ["fact"]
    scopes: dict[str, FactScope] = {}
    for fact in cube.facts.values():
        scope = FactScope(cube, fact, "as_at")
        scopes[fact.name] = scope
        columns: dict[str, exp.Expression] = {"fact": exp.Literal.string(fact.name)}
        for dim in cube.dimensions.values():
            if fact.name not in dim.joins:
                continue
            scope.need(dim, "view")
            for level in dim.levels.values():
                columns[f"{dim.name}_{level.name}"] = scope.level_expr(
                    LevelRef(f"{dim.name}.{level.name}", dim, level)
                )
        for m in cube.measures.values():
            if m.kind == "aggregate" and m.fact == fact.name:
                columns.update(_blocks(m, scope))
        for name in columns:
            if name not in all_columns:
                all_columns.append(name)
        per_fact.append((fact.name, columns))
    selects = []
    for fact_name, columns in per_fact:
        outputs = [exp.alias_(columns.get(c, exp.Null()), c, quoted=True) for c in all_columns]
        selects.append(scopes[fact_name].from_(exp.select(*outputs)))
    query: exp.Expression = selects[0]
    for s in selects[1:]:
        query = exp.union(query, s, distinct=False)
    return query


def create_views(con: duckdb.DuckDBPyConnection, cubes: dict[str, Cube] | None = None) -> list[str]:
    cubes = cubes if cubes is not None else default_cubes()
    con.execute(f"create schema if not exists {VIEW_SCHEMA}")
    names = []
    for cube in cubes.values():
        target = exp.table_(cube.name, db=VIEW_SCHEMA, quoted=True)
        create = exp.Create(this=target, kind="VIEW", expression=view_sql(cube), replace=True)
        con.execute(create.sql("duckdb"))
        names.append(f"{VIEW_SCHEMA}.{cube.name}")
    return names
