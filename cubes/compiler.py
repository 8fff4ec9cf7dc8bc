"""Compile a :class:`~cubes.query.Query` against a cube definition into one sqlglot SELECT.

Every name in the SQL comes from the validated definition (never from user text), and every filter value
is a numbered parameter (``$1``...). Measures are aggregated per fact at the requested grain in their own
CTE and the CTEs are joined on the grain, so measures of different facts never fan out. Totals use
GROUPING SETS evaluated on the base facts, so every subtotal of a median, distinct count or ratio is the
true value for its level.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from cubes.definitions import (
    ADDITIVE_AGGREGATIONS,
    Cube,
    CubeDimension,
    Fact,
    Level,
    Measure,
    PreAggregation,
    Type2,
    get_cube,
)
from cubes.errors import CubeError, QueryError
from cubes.query import ROLLING, Drill, Filter, Query

FAR_FUTURE = "9999-12-31 00:00:00"
FAR_PAST = "1900-01-01 00:00:00"
PREAGG_SCHEMA = "cubes_preagg"
GROUPING_COLUMN = "_grouping"  # exact pre-aggregations: which grouping set a stored row belongs to
EXACT_PREFIX = "m__"  # exact pre-aggregations: the true value of a leaf measure
DIALECTS = ("duckdb", "spark", "postgres", "snowflake", "trino", "bigquery", "databricks")
PERIOD_STEP = {
    "day": ("DAY", 1),
    "week": ("DAY", 7),
    "month": ("MONTH", 1),
    "quarter": ("MONTH", 3),
    "year": ("YEAR", 1),
}


def ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


@functools.cache
def _dialect(name: str) -> Dialect:
    """sqlglot's dialect object, made once (looking it up by name builds a new one each time)."""
    return Dialect.get_or_raise(name)


@functools.lru_cache(maxsize=1024)
def _parse_definition(sql: str) -> exp.Expression:
    """A measure/level expression of a cube definition, parsed once (callers must not modify it)."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    # The parser's source positions are copied with every node, which makes each copy several times slower.
    for node in tree.walk():
        node._meta = None
    return tree


@functools.lru_cache(maxsize=1024)
def _qualified_definition(sql: str) -> tuple[exp.Expression, tuple[str, ...]]:
    """A definition expression with fact columns on ``f`` and ``dim.col`` on the dimension's alias, and the
    dimensions it reads in order of appearance (callers must not modify the tree)."""
    dimensions: list[str] = []

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column):
            if node.table:
                dimensions.append(node.table)
                return col(node.name, FactScope.alias_of(node.table))
            return col(node.name, "f")
        return node

    tree = _parse_definition(sql).transform(rewrite)  # transform copies: the parsed tree stays as it is
    return tree, tuple(dict.fromkeys(dimensions))


# sqlglot's builders (alias_, cast, Select.join) parse their string arguments; compiling is on the path of
# every query, so the nodes are built directly.
def named(expression: exp.Expression, name: str, quoted: bool = True) -> exp.Alias:
    return exp.Alias(this=expression, alias=exp.to_identifier(name, quoted=quoted))


def cast_(expression: exp.Expression, type_name: str) -> exp.Cast:
    return exp.Cast(this=expression, to=exp.DataType(this=exp.DataType.Type[type_name], nested=False))


def select_(*expressions: exp.Expression) -> exp.Select:
    return exp.Select(expressions=list(expressions))


def and_(*conditions: exp.Expression) -> exp.Expression:
    """The conjunction of freshly built conditions (sqlglot's ``and_`` copies them first)."""
    return exp.and_(*conditions, copy=False)


def add_join(
    select: exp.Select, source: exp.Expression, on: exp.Expression | None = None, kind: str = "left"
) -> exp.Select:
    """``select`` with ``source`` joined (``kind``: left, full, inner or cross), changed in place."""
    join = (
        exp.Join(this=source, on=on, side=kind.upper())
        if kind in ("left", "full")
        else exp.Join(this=source, on=on, kind=kind.upper())
    )
    select.append("joins", join)
    return select


def cte_table(name: str, alias: str | None = None) -> exp.Table:
    """A CTE of the compiled query, by its (generated, unquoted) name."""
    table = exp.Table(this=exp.to_identifier(name))
    if alias is not None:
        table.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
    return table


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def table_ref(qualified: str, alias: str | None = None) -> exp.Table:
    schema, _, name = qualified.rpartition(".")
    return exp.table_(name, db=schema or None, alias=alias, quoted=True)


class Params:
    """Filter values in order; each becomes a numbered placeholder bound by DuckDB."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any) -> exp.Placeholder:
        self.values.append(value)
        return exp.Placeholder(this=str(len(self.values)))


def literal(value: Any) -> exp.Expression:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    if isinstance(value, datetime):
        return cast_(exp.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP")
    if isinstance(value, date):
        return cast_(exp.Literal.string(value.isoformat()), "DATE")
    return exp.Literal.string(str(value))


@dataclass
class CompiledQuery:
    """A compiled query: the SQL tree, its parameters and the shape of its result."""

    cube: Cube
    query: Query
    expression: exp.Expression
    params: list[Any]
    row_levels: list[str]
    column_levels: list[str]
    measures: list[str]
    preaggregations_used: list[str] = field(default_factory=list)

    def to_sql(
        self, dialect: str = "duckdb", inline: bool = False, pretty: bool = False, copy: bool = True
    ) -> str:
        """SQL text for ``dialect``; ``inline`` writes parameter values as escaped literals instead.
        ``copy=False`` lets the generator rewrite the tree in place (cheaper, for a tree rendered once)."""
        if dialect not in DIALECTS:
            raise QueryError(f"unknown dialect {dialect!r}; one of {', '.join(DIALECTS)}")
        tree = self.expression
        if inline:
            values = self.params

            def substitute(node: exp.Expression) -> exp.Expression:
                if isinstance(node, exp.Placeholder) and str(node.this).isdigit():
                    return literal(values[int(node.this) - 1])
                return node

            tree = tree.copy().transform(substitute)
        return _dialect(dialect).generate(tree, copy=copy and not inline, pretty=pretty)

    @property
    def flag_columns(self) -> list[str]:
        return [f"{a}__total" for a in self.levels] if self.query.totals else []

    @property
    def levels(self) -> list[str]:
        return [*self.row_levels, *self.column_levels]


@dataclass(frozen=True)
class LevelRef:
    address: str
    dim: CubeDimension
    level: Level


@dataclass(frozen=True)
class FilterRef:
    ref: LevelRef
    op: str
    values: tuple[Any, ...]


def coerce(ref: LevelRef, value: Any) -> Any:
    """Convert a filter value to the level's type; refuse values that do not fit."""
    kind = ref.level.type
    text = value if isinstance(value, str) else None
    try:
        if kind == "integer":
            return int(value) if text is None else int(text.strip())
        if kind == "number":
            return float(value)
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            lowered = str(value).strip().lower()
            if lowered in ("true", "1", "yes"):
                return True
            if lowered in ("false", "0", "no"):
                return False
            raise ValueError(value)
        if kind == "date":
            if isinstance(value, date):
                return value
            stripped = str(value).strip()
            if len(stripped) == 7:
                stripped += "-01"
            return date.fromisoformat(stripped)
    except (TypeError, ValueError):
        raise QueryError(f"filter on {ref.address}: {value!r} is not a valid {kind}") from None
    return str(value)


class FactScope:
    """FROM/JOIN of one fact with the dimensions a unit needs, and column qualification."""

    def __init__(self, cube: Cube, fact: Fact, customer_version: str) -> None:
        self.cube = cube
        self.fact = fact
        self.customer_version = customer_version
        self.dims: list[CubeDimension] = []

    @staticmethod
    def alias(dim: CubeDimension) -> str:
        return FactScope.alias_of(dim.name)

    @staticmethod
    def alias_of(dimension_name: str) -> str:
        return f"d_{dimension_name}"

    def need(self, dim: CubeDimension, why: str) -> None:
        if self.fact.name not in dim.joins:
            raise QueryError(
                f"cube {self.cube.name}: {why} (fact {self.fact.name}) cannot be combined with dimension "
                f"{dim.name}: the dimension does not apply to that fact (it applies to {', '.join(dim.joins)})"
            )
        if not dim.is_degenerate and dim not in self.dims:
            self.dims.append(dim)

    def level_expr(self, ref: LevelRef) -> exp.Expression:
        table = "f" if ref.dim.is_degenerate else self.alias(ref.dim)
        return col(ref.level.column, table)

    def qualify(self, sql: str) -> exp.Expression:
        """A definition expression with fact columns on ``f`` and ``dim.col`` on the dimension alias."""
        tree, dimensions = _qualified_definition(sql)
        self.need_all(dimensions, sql)
        return tree.copy()

    def need_all(self, dimensions: tuple[str, ...], sql: str) -> None:
        for name in dimensions:
            self.need(self.cube.dimensions[name], f"expression {sql!r}")

    def from_(self, select: exp.Select, skip: CubeDimension | None = None) -> exp.Select:
        select = select.from_(table_ref(self.fact.table, "f"), copy=False)
        for dim in self.dims:
            if dim is skip:
                continue
            assert dim.table is not None
            join = _dimension_join(
                dim.table.table,
                dim.table.key,
                dim.table.type2,
                self.alias(dim),
                str(dim.joins[self.fact.name]),
                str(self.fact.time_column),
                self.customer_version,
            )
            select.append("joins", join.copy())
        return select


@functools.lru_cache(maxsize=1024)
def _dimension_join(
    table: str,
    key: str,
    t2: Type2 | None,
    alias: str,
    fact_column: str,
    fact_time_column: str,
    customer_version: str,
) -> exp.Join:
    """The LEFT JOIN of a dimension table to the fact ``f``, built once (callers copy it). A type-2 table is
    joined on the version valid at the fact's time, or on the current version."""
    fact_key = col(fact_column, "f")
    if t2 is None:
        return exp.Join(
            this=table_ref(table, alias), on=exp.EQ(this=fact_key, expression=col(key, alias)), side="LEFT"
        )
    on = exp.EQ(this=fact_key, expression=col(t2.natural_key, alias))
    if customer_version == "current":
        return exp.Join(this=table_ref(table, alias), on=and_(on, col(t2.is_current, alias)), side="LEFT")
    # The first version of each customer also covers fact times before it was recorded, so that no
    # fact row loses its customer attributes.
    first = exp.EQ(
        this=exp.Window(
            this=exp.RowNumber(),
            partition_by=[col(t2.natural_key)],
            order=exp.Order(expressions=[exp.Ordered(this=col(t2.valid_from))]),
        ),
        expression=exp.Literal.number(1),
    )
    valid_from = exp.Case(
        ifs=[exp.If(this=first, true=cast_(exp.Literal.string(FAR_PAST), "TIMESTAMP"))]
    ).else_(col(t2.valid_from))
    versions = select_(exp.Star(), named(valid_from, "_valid_from", quoted=True)).from_(
        table_ref(table), copy=False
    )
    fact_time = cast_(col(fact_time_column, "f"), "TIMESTAMP")
    condition = and_(
        on,
        exp.GTE(this=fact_time, expression=col("_valid_from", alias)),
        exp.LT(
            this=fact_time.copy(),
            expression=exp.Coalesce(
                this=col(t2.valid_to, alias),
                expressions=[cast_(exp.Literal.string(FAR_FUTURE), "TIMESTAMP")],
            ),
        ),
    )
    return exp.Join(
        this=exp.Subquery(this=versions, alias=exp.TableAlias(this=ident(alias))), on=condition, side="LEFT"
    )


def filter_condition(target: exp.Expression, f: FilterRef, params: Params) -> exp.Expression:
    values = [params.add(v) for v in f.values]
    if f.op == "eq":
        return exp.EQ(this=target, expression=values[0])
    if f.op == "ne":
        return exp.or_(
            exp.NEQ(this=target, expression=values[0]), exp.Is(this=target.copy(), expression=exp.Null())
        )
    if f.op == "in":
        return exp.In(this=target, expressions=values)
    if f.op == "not_in":
        return exp.or_(
            exp.Not(this=exp.In(this=target, expressions=values)),
            exp.Is(this=target.copy(), expression=exp.Null()),
        )
    if f.op == "range":
        return exp.Between(this=target, low=values[0], high=values[1])
    cls = {"gt": exp.GT, "gte": exp.GTE, "lt": exp.LT, "lte": exp.LTE}[f.op]
    return cls(this=target, expression=values[0])


def aggregate(m: Measure, scope: FactScope) -> exp.Expression:
    """The SQL aggregate of a leaf measure over the rows of its fact."""
    tree, reads = _aggregate_template(m)
    for sql, dimensions in reads:
        scope.need_all(dimensions, sql)
    return tree.copy()


@functools.lru_cache(maxsize=1024)
def _aggregate_template(m: Measure) -> tuple[exp.Expression, tuple[tuple[str, tuple[str, ...]], ...]]:
    """The aggregate of a leaf measure, built once per measure (callers copy it), and for its condition and
    value expressions the dimensions each reads: a query using the measure must join them."""
    reads: list[tuple[str, tuple[str, ...]]] = []

    def qualified(sql: str) -> exp.Expression:
        tree, dimensions = _qualified_definition(sql)
        reads.append((sql, dimensions))
        return tree.copy()

    cond = qualified(m.where) if m.where else None
    value = qualified(m.value_sql) if m.value_sql else None
    return _aggregate_of(m, cond, value), tuple(reads)


def _aggregate_of(m: Measure, cond: exp.Expression | None, value: exp.Expression | None) -> exp.Expression:
    if m.aggregation == "count" and value is None:
        if cond is None:
            return exp.Count(this=exp.Star())
        return exp.Count(this=exp.Case(ifs=[exp.If(this=cond, true=exp.Literal.number(1))]))
    assert value is not None
    if cond is not None:
        value = exp.Case(ifs=[exp.If(this=cond, true=value)])
    if m.aggregation == "count":
        return exp.Count(this=value)
    if m.aggregation == "count_distinct":
        return exp.Count(this=exp.Distinct(expressions=[value]))
    if m.aggregation == "sum":
        return exp.Sum(this=value)
    if m.aggregation == "avg":
        return exp.Avg(this=cast_(value, "DOUBLE"))
    if m.aggregation == "median":
        return exp.Median(this=value)
    if m.aggregation == "percentile":
        return exp.PercentileCont(this=value, expression=exp.Literal.number(m.percentile))
    if m.aggregation == "min":
        return exp.Min(this=value)
    return exp.Max(this=value)


@dataclass(frozen=True)
class ExactRead:
    """One grouping set a query needs (indices of its levels) and the stored grouping set answering it."""

    grain: list[int]
    stored: frozenset[str]


@dataclass
class Unit:
    """Leaf measures of one fact (and one time shift) computed in one CTE at the query grain."""

    name: str
    fact: Fact
    time: str | None
    leaves: list[Measure]
    preagg: PreAggregation | None = None


def _grouping_sets(rows: list[int], cols: list[int], totals: bool) -> list[list[int]]:
    if not totals:
        return [rows + cols]
    return [rows[:i] + cols[:j] for i in range(len(rows), -1, -1) for j in range(len(cols), -1, -1)]


def apply_drills(cube: Cube, query: Query) -> Query:
    if not query.drills:
        return query
    rows, columns, filters = list(query.rows), list(query.columns), list(query.filters)
    for drill in query.drills:
        axis = rows if drill.level in rows else columns if drill.level in columns else None
        if axis is None:
            raise QueryError(f"drill on {drill.level}: the level is not on rows or columns")
        dim, level = _resolve(cube, drill.level)
        target = dim.child_of(level.name) if drill.direction == "down" else dim.parent_of(level.name)
        if target is None:
            edge = "lowest" if drill.direction == "down" else "top"
            raise QueryError(
                f"drill {drill.direction} on {drill.level}: it is the {edge} level of its hierarchy"
            )
        new_address = f"{dim.name}.{target}"
        axis[axis.index(drill.level)] = new_address
        if drill.direction == "down" and drill.member is not None:
            filters.append(Filter(drill.level, "eq", (drill.member,)))
        if drill.direction == "up":
            filters = [f for f in filters if f.level != drill.level]
    return query.with_(rows=tuple(rows), columns=tuple(columns), filters=tuple(filters), drills=())


def drill(query: Query, level: str, direction: str = "down", member: Any = None) -> Query:
    """A new query with one more drill step."""
    return query.with_(drills=(*query.drills, Drill(level, direction, member)))


def _resolve(cube: Cube, address: str) -> tuple[CubeDimension, Level]:
    try:
        return cube.level(address)
    except CubeError as exc:
        raise QueryError(str(exc)) from None


class Compiler:
    def __init__(self, cube: Cube, query: Query, use_preaggregations: bool | set[str] = False) -> None:
        self.cube = cube
        self.query = apply_drills(cube, query)
        self.use_preaggregations = use_preaggregations
        self.params = Params()
        self.levels = [LevelRef(a, *_resolve(cube, a)) for a in (*self.query.rows, *self.query.columns)]
        self.n_rows = len(self.query.rows)
        self.filters = [
            FilterRef(ref, f.op, tuple(coerce(ref, v) for v in f.values))
            for f in self.query.filters
            for ref in [LevelRef(f.level, *_resolve(cube, f.level))]
        ]
        self.refs = list(dict.fromkeys(self.query.measure_refs))
        for ref in self.refs:
            if ref.name not in cube.measures:
                raise QueryError(
                    f"cube {cube.name}: unknown measure {ref.name!r}; measures are "
                    + ", ".join(n for n, m in cube.measures.items() if not m.hidden)
                )
        self.units: list[Unit] = []
        self.ctes: list[tuple[str, exp.Expression]] = []
        self.preaggs_used: list[str] = []

    # units ------------------------------------------------------------------------------------------
    def build_units(self) -> None:
        by_key: dict[tuple[str, str | None], Unit] = {}
        for ref in self.refs:
            for leaf in self.cube.leaf_measures(ref.name):
                key = (str(leaf.fact), ref.time)
                if key not in by_key:
                    by_key[key] = Unit(f"u{len(by_key)}", self.cube.facts[str(leaf.fact)], ref.time, [])
                if leaf not in by_key[key].leaves:
                    by_key[key].leaves.append(leaf)
        self.units = list(by_key.values())

    def unit_of(self, leaf: Measure, time: str | None) -> Unit:
        return next(u for u in self.units if u.fact.name == leaf.fact and u.time == time)

    # one CTE per unit ---------------------------------------------------------------------------------
    def base_cte(self, unit: Unit) -> exp.Expression:
        picked = self.pick_preaggregation(unit)
        if picked is not None:
            pre, reads = picked
            return self.exact_cte(unit, pre, reads) if pre.exact else self.preagg_cte(unit, pre)
        scope = FactScope(self.cube, unit.fact, self.query.customer_version)
        for ref in self.levels:
            scope.need(
                ref.dim, f"level {ref.address} with measure(s) {', '.join(m.name for m in unit.leaves)}"
            )
        for f in self.filters:
            scope.need(
                f.ref.dim,
                f"filter on {f.ref.address} with measure(s) {', '.join(m.name for m in unit.leaves)}",
            )
        level_exprs = [scope.level_expr(ref) for ref in self.levels]
        aggregates = [named(aggregate(m, scope), f"m_{m.name}", quoted=True) for m in unit.leaves]
        where = [filter_condition(scope.level_expr(f.ref), f, self.params) for f in self.filters]
        select = select_(*self.grain_columns(level_exprs), *aggregates)
        select = scope.from_(select)
        if where:
            select = select.where(and_(*where), copy=False)
        return self.group(select, level_exprs, [])

    def grain_columns(
        self, level_exprs: list[exp.Expression], keep: list[int] | None = None
    ) -> list[exp.Expression]:
        out: list[exp.Expression] = [
            named(e.copy(), f"_l{i}", quoted=True) for i, e in enumerate(level_exprs)
        ]
        if self.query.totals:
            out += [
                named(exp.Grouping(expressions=[e.copy()]), f"_g{i}", quoted=True)
                for i, e in enumerate(level_exprs)
            ]
        return out

    def group(
        self, select: exp.Select, level_exprs: list[exp.Expression], must_have: list[int]
    ) -> exp.Select:
        if not level_exprs:
            return select
        n = self.n_rows
        sets = _grouping_sets(list(range(n)), list(range(n, len(level_exprs))), self.query.totals)
        sets = [s for s in sets if all(i in s for i in must_have)]
        if not self.query.totals:
            # The level expressions' last use: no copy needed.
            return select.group_by(*level_exprs, copy=False)
        grouping_sets = exp.GroupingSets(
            expressions=[exp.Tuple(expressions=[level_exprs[i].copy() for i in s]) for s in sets]
        )
        return select.group_by(grouping_sets, copy=False)

    def time_cte(self, unit: Unit) -> exp.Select:
        """A shifted measure: fact rows of each period's window, aggregated per period from the base fact."""
        candidates = [r for r in self.levels if r.dim.table is not None and r.dim.table.name == "date"]
        candidates = [r for r in candidates if unit.fact.name in r.dim.joins]
        if len(candidates) != 1 or candidates[0].level.period is None:
            raise QueryError(
                f"time intelligence ({unit.time}) needs exactly one calendar level of a date dimension of fact "
                f"{unit.fact.name} on rows or columns (for example date.month)"
            )
        date_ref = candidates[0]
        others = [r for r in self.levels if r.dim is date_ref.dim and r is not date_ref]
        if others:
            raise QueryError(
                f"time intelligence: only one level of dimension {date_ref.dim.name} may be on rows/columns"
            )
        if unit.time == "ytd" and date_ref.level.name.startswith("fiscal"):
            raise QueryError(
                "ytd is calendar year to date; use a calendar level (year, quarter, month, week, day)"
            )
        assert date_ref.dim.table is not None
        dim_table = date_ref.dim.table
        day = col(dim_table.key, "d")
        period_filters = [f for f in self.filters if f.ref.dim is date_ref.dim]
        periods = select_(
            named(col(date_ref.level.column, "d"), "_p", quoted=True),
            named(exp.Min(this=day.copy()), "_ps", quoted=True),
            named(exp.Max(this=day.copy()), "_pe", quoted=True),
        ).from_(table_ref(dim_table.table, "d"), copy=False)
        if period_filters:
            periods = periods.where(
                and_(
                    *[filter_condition(col(f.ref.level.column, "d"), f, self.params) for f in period_filters]
                ),
                copy=False,
            )
        periods = periods.group_by(col(date_ref.level.column, "d"), copy=False)
        periods_name = f"{unit.name}_periods"
        self.ctes.append((periods_name, periods))

        start, end = self.window(unit.time or "", str(date_ref.level.period))
        scope = FactScope(self.cube, unit.fact, self.query.customer_version)
        for ref in self.levels:
            if ref is not date_ref:
                scope.need(ref.dim, f"level {ref.address}")
        for f in self.filters:
            if f.ref.dim is not date_ref.dim:
                scope.need(f.ref.dim, f"filter on {f.ref.address}")
        level_exprs = [col("_p", "p") if ref is date_ref else scope.level_expr(ref) for ref in self.levels]
        aggregates = [named(aggregate(m, scope), f"m_{m.name}", quoted=True) for m in unit.leaves]
        where = [
            filter_condition(scope.level_expr(f.ref), f, self.params)
            for f in self.filters
            if f.ref.dim is not date_ref.dim
        ]
        # Each period's window as the fact's own days that fall in it: a range join of a few thousand days
        # with the periods, then an equality join of the fact rows, instead of comparing every fact row
        # with every period. The fact rows of each period are the same.
        fact_day_column = str(date_ref.dim.joins[unit.fact.name])
        days_name, windows_name = f"{unit.name}_days", f"{unit.name}_windows"
        fact_days = (
            select_(named(col(fact_day_column, "f"), "_day", quoted=True))
            .from_(table_ref(unit.fact.table, "f"), copy=False)
            .distinct(copy=False)
        )
        self.ctes.append((days_name, fact_days))
        windows = select_(col("_p", "p"), col("_day", "x")).from_(cte_table(periods_name, "p"), copy=False)
        windows = add_join(
            windows,
            cte_table(days_name, "x"),
            exp.Between(this=col("_day", "x"), low=start, high=end),
            "inner",
        )
        self.ctes.append((windows_name, windows))
        select = scope.from_(select_(*self.grain_columns(level_exprs), *aggregates))
        select = add_join(
            select,
            cte_table(windows_name, "p"),
            exp.EQ(this=col(fact_day_column, "f"), expression=col("_day", "p")),
            "inner",
        )
        if where:
            select = select.where(and_(*where), copy=False)
        return self.group(select, level_exprs, [self.levels.index(date_ref)])

    @staticmethod
    def window(kind: str, period: str) -> tuple[exp.Expression, exp.Expression]:
        ps, pe = col("_ps", "p"), col("_pe", "p")
        unit, step = PERIOD_STEP[period]

        def shift(e: exp.Expression, n: int, u: str) -> exp.Expression:
            return cast_(exp.DateAdd(this=e, expression=exp.Literal.number(n), unit=exp.Var(this=u)), "DATE")

        if kind == "previous_period":
            return shift(ps, -step, unit), shift(ps.copy(), -1, "DAY")
        if kind == "same_period_last_year":
            return shift(ps, -1, "YEAR"), shift(shift(shift(pe, 1, "DAY"), -1, "YEAR"), -1, "DAY")
        if kind == "ytd":
            return cast_(exp.DateTrunc(unit=exp.Literal.string("YEAR"), this=ps), "DATE"), pe
        match = ROLLING.match(kind)
        assert match is not None
        months = int(match.group(1))
        if months < 1:
            raise QueryError("rolling window needs at least 1 month")
        return shift(shift(pe, 1, "DAY"), -months, "MONTH"), pe.copy()

    # pre-aggregations -----------------------------------------------------------------------------------
    def pick_preaggregation(self, unit: Unit) -> tuple[PreAggregation, list[ExactRead]] | None:
        """The smallest usable pre-aggregation (fewest levels) for ``unit``, with the stored grouping sets
        an exact one is read from (empty for an additive one)."""
        if not self.use_preaggregations or unit.time is not None:
            return None
        needed = {r.address for r in self.levels} | {f.ref.address for f in self.filters}
        uses_customer = any(
            a.partition(".")[0] in self.cube.dimensions
            and (d := self.cube.dimensions[a.partition(".")[0]]).table is not None
            and d.table.type2 is not None
            for a in needed
        )
        best: tuple[PreAggregation, list[ExactRead]] | None = None
        available = self.use_preaggregations
        for pre in self.cube.preaggregations:
            if pre.fact != unit.fact.name or not needed <= set(pre.levels):
                continue
            if best is not None and len(pre.levels) >= len(best[0].levels):
                continue
            if isinstance(available, set) and preagg_table_name(self.cube, pre) not in available:
                continue
            if uses_customer and pre.customer_version != self.query.customer_version:
                continue
            stored = {leaf.name for m in pre.measures for leaf in self.cube.leaf_measures(m)}
            if any(leaf.name not in stored for leaf in unit.leaves):
                continue
            if pre.exact:
                reads = self.exact_reads(pre)
                if reads is not None:
                    best = (pre, reads)
            elif all(leaf.aggregation in ADDITIVE_AGGREGATIONS for leaf in unit.leaves):
                best = (pre, [])
        return best

    def exact_reads(self, pre: PreAggregation) -> list[ExactRead] | None:
        """For each grouping set the query needs, the stored grouping set holding its true values, or None.

        A stored group is the answer for a query group only if it covers the same fact rows: every filtered
        level must be a level of the stored set (a filter then keeps or drops whole groups), and a stored
        level that the query group does not have must be pinned to one member by an ``eq`` filter."""
        filtered = {f.ref.address for f in self.filters}
        pinned = {f.ref.address for f in self.filters if f.op == "eq"}
        reads: list[ExactRead] = []
        for grain in _grouping_sets(
            list(range(self.n_rows)), list(range(self.n_rows, len(self.levels))), self.query.totals
        ):
            addresses = {self.levels[i].address for i in grain}
            stored = frozenset(addresses | filtered)
            if not (stored - addresses) <= pinned or stored not in pre.grouping_sets:
                return None
            reads.append(ExactRead(grain, stored))
        return reads

    def preagg_cte(self, unit: Unit, pre: PreAggregation) -> exp.Select:
        self.preaggs_used.append(pre.name)
        level_exprs = [col(ref.address, "f") for ref in self.levels]
        aggregates: list[exp.Expression] = []
        for m in unit.leaves:
            if m.aggregation == "count":
                value: exp.Expression = cast_(exp.Sum(this=col(f"cnt__{m.name}", "f")), "BIGINT")
            elif m.aggregation == "sum":
                value = exp.Sum(this=col(f"sum__{m.name}", "f"))
            else:
                value = exp.Div(
                    this=exp.Sum(this=col(f"sum__{m.name}", "f")),
                    expression=exp.Nullif(
                        this=cast_(exp.Sum(this=col(f"cnt__{m.name}", "f")), "DOUBLE"),
                        expression=exp.Literal.number(0),
                    ),
                )
            aggregates.append(named(value, f"m_{m.name}", quoted=True))
        select = select_(*self.grain_columns(level_exprs), *aggregates).from_(
            exp.table_(preagg_table_name(self.cube, pre), db=PREAGG_SCHEMA, alias="f", quoted=True),
            copy=False,
        )
        where = [filter_condition(col(f.ref.address, "f"), f, self.params) for f in self.filters]
        if where:
            select = select.where(and_(*where), copy=False)
        return self.group(select, level_exprs, [])

    def exact_cte(self, unit: Unit, pre: PreAggregation, reads: list[ExactRead]) -> exp.Expression:
        """Stored true values, one branch per grouping set of the query, shaped like a base CTE."""
        self.preaggs_used.append(pre.name)
        branches: list[exp.Select] = []
        for read in reads:
            outputs: list[exp.Expression] = [
                named(col(ref.address, "f") if i in read.grain else exp.null(), f"_l{i}", quoted=True)
                for i, ref in enumerate(self.levels)
            ]
            if self.query.totals:
                outputs += [
                    named(exp.Literal.number(0 if i in read.grain else 1), f"_g{i}", quoted=True)
                    for i in range(len(self.levels))
                ]
            for m in unit.leaves:
                stored: exp.Expression = col(f"{EXACT_PREFIX}{m.name}", "f")
                if not read.grain:
                    # A grand total exists even over no fact rows (as GROUP BY () gives): aggregate the
                    # zero or one stored row to the value an empty aggregate has.
                    stored = exp.AnyValue(this=stored)
                    if m.aggregation in ("count", "count_distinct"):
                        stored = exp.Coalesce(this=stored, expressions=[exp.Literal.number(0)])
                outputs.append(named(stored, f"m_{m.name}", quoted=True))
            where = [
                exp.EQ(
                    this=col(GROUPING_COLUMN, "f"),
                    expression=exp.Literal.number(grouping_mask(pre, read.stored)),
                ),
                *[filter_condition(col(f.ref.address, "f"), f, self.params) for f in self.filters],
            ]
            branch = select_(*outputs).from_(
                exp.table_(preagg_table_name(self.cube, pre), db=PREAGG_SCHEMA, alias="f", quoted=True),
                copy=False,
            )
            branches.append(branch.where(and_(*where), copy=False))
        out: exp.Expression = branches[0]
        for branch in branches[1:]:
            out = exp.union(out, branch, distinct=False)
        return out

    # final select ---------------------------------------------------------------------------------------
    def measure_expr(
        self, name: str, time: str | None, joined: bool, in_ratio: bool = False
    ) -> exp.Expression:
        m = self.cube.measures[name]
        if m.kind == "aggregate":
            unit = self.unit_of(m, time)
            value: exp.Expression = col(f"m_{m.name}", unit.name)
            if (m.aggregation == "count" and joined and time is None) or (
                in_ratio and m.aggregation in ("count", "sum")
            ):
                value = exp.Coalesce(this=value, expressions=[exp.Literal.number(0)])
            return value

        def total(parts: tuple[str, ...]) -> exp.Expression:
            exprs = [self.measure_expr(p, time, joined, in_ratio=True) for p in parts]
            out = exprs[0]
            for e in exprs[1:]:
                out = exp.Add(this=out, expression=e)
            return out

        return exp.Div(
            this=cast_(total(m.numerator), "DOUBLE"),
            expression=exp.Nullif(
                this=cast_(total(m.denominator), "DOUBLE"), expression=exp.Literal.number(0)
            ),
        )

    def compile(self) -> CompiledQuery:
        self.build_units()
        for unit in self.units:
            cte = self.time_cte(unit) if unit.time else self.base_cte(unit)
            self.ctes.append((unit.name, cte))
        n = len(self.levels)
        joined = len(self.units) > 1
        # The units that give the query its members (the others are shifted in time: they only add values
        # to members), full-joined on the grain: each unit holds one row per member, so each member comes
        # out once, from whichever units have it.
        keyed = [u for u in self.units if u.time is None] or self.units

        def member(column: str, units: list[Unit]) -> exp.Expression:
            if len(units) == 1:
                return col(column, units[0].name)
            return exp.Coalesce(
                this=col(column, units[0].name), expressions=[col(column, u.name) for u in units[1:]]
            )

        grain = [f"_l{i}" for i in range(n)] + ([f"_g{i}" for i in range(n)] if self.query.totals else [])
        outputs: list[exp.Expression] = []
        for i, ref in enumerate(self.levels):
            outputs.append(named(member(f"_l{i}", keyed), ref.address, quoted=True))
        if self.query.totals:
            for i, ref in enumerate(self.levels):
                flag = exp.EQ(this=member(f"_g{i}", keyed), expression=exp.Literal.number(1))
                outputs.append(named(flag, f"{ref.address}__total", quoted=True))
        measure_outputs = {
            ref.alias: self.measure_expr(ref.name, ref.time, joined and n > 0) for ref in self.refs
        }
        outputs += [named(e, alias, quoted=True) for alias, e in measure_outputs.items()]
        select = select_(*outputs).from_(cte_table(keyed[0].name), copy=False)
        shifted = [u for u in self.units if u not in keyed]
        for position, u in enumerate([*keyed, *shifted]):
            if position == 0:
                continue
            if n == 0:
                select = add_join(select, cte_table(u.name), kind="cross")
                continue
            is_keyed = position < len(keyed)
            earlier = keyed[:position] if is_keyed else keyed
            on = [
                (exp.EQ if c.startswith("_g") else exp.NullSafeEQ)(
                    this=member(c, earlier), expression=col(c, u.name)
                )
                for c in grain
            ]
            select = add_join(select, cte_table(u.name), and_(*on), "full" if is_keyed else "left")
        select.set(
            "with_",
            exp.With(
                expressions=[
                    exp.CTE(this=cte, alias=exp.TableAlias(this=exp.to_identifier(name)))
                    for name, cte in self.ctes
                ]
            ),
        )
        final = self.order_and_top(select, measure_outputs)
        return CompiledQuery(
            self.cube,
            self.query,
            final,
            self.params.values,
            list(self.query.rows),
            list(self.query.columns),
            list(measure_outputs),
            self.preaggs_used,
        )

    def order_and_top(self, select: exp.Select, measures: dict[str, exp.Expression]) -> exp.Expression:
        known = {r.address for r in self.levels} | set(measures)
        order: list[exp.Ordered] = []
        for o in self.query.order:
            if o.field not in known:
                raise QueryError(
                    f"order by {o.field!r}: not a level or measure of the query ({', '.join(known)})"
                )
            order.append(exp.Ordered(this=col(o.field), desc=o.descending, nulls_first=False))
        if self.query.top is not None:
            top = self.query.top
            if top.measure not in measures:
                raise QueryError(
                    f"top/bottom N by {top.measure!r}: name one of the query's measures ({', '.join(measures)})"
                )
            flags = [col(f"{r.address}__total") for r in self.levels] if self.query.totals else []
            detail = exp.Paren(this=and_(*[exp.Not(this=f) for f in flags])) if flags else exp.true()
            rank = exp.Window(
                this=exp.RowNumber(),
                partition_by=[detail.copy()],
                order=exp.Order(
                    expressions=[exp.Ordered(this=col(top.measure), desc=not top.bottom, nulls_first=False)]
                ),
            )
            inner = select_(exp.Star(), named(rank, "_rank", quoted=True)).from_(
                exp.Subquery(this=select, alias=exp.TableAlias(this=ident("q"))), copy=False
            )
            keep = exp.LTE(this=col("_rank"), expression=exp.Literal.number(top.n))
            if flags:
                keep = exp.or_(keep, exp.Not(this=detail.copy()))
            outputs = [col(r.address) for r in self.levels]
            outputs += [col(f"{r.address}__total") for r in self.levels] if self.query.totals else []
            outputs += [col(m) for m in measures]
            select = select_(*outputs).from_(
                exp.Subquery(this=inner, alias=exp.TableAlias(this=ident("ranked"))), copy=False
            )
            select = select.where(keep, copy=False)
            if not order:
                order.append(exp.Ordered(this=col(top.measure), desc=not top.bottom, nulls_first=False))
        for r in self.levels:
            if self.query.totals:
                order.append(exp.Ordered(this=col(f"{r.address}__total")))
            order.append(exp.Ordered(this=col(r.address), nulls_first=False))
        if order:
            select = select.order_by(*order, copy=False)
        if self.query.limit is not None:
            select = select.limit(self.query.limit, copy=False)
        return select


def preagg_table_name(cube: Cube, pre: PreAggregation) -> str:
    return f"{cube.name}__{pre.name}"


def grouping_mask(pre: PreAggregation, stored: frozenset[str]) -> int:
    """DuckDB's GROUPING(level, ...) over the levels of ``pre`` for the grouping set ``stored``: the first
    level is the highest bit, a bit is set when the level is rolled up."""
    mask = 0
    for address in pre.levels:
        mask = (mask << 1) | (address not in stored)
    return mask


def compile_query(
    query: Query, cubes: dict[str, Cube] | None = None, use_preaggregations: bool | set[str] = False
) -> CompiledQuery:
    """Compile ``query``; raises :class:`QueryError` naming what is wrong.

    ``use_preaggregations``: True to route to any declared pre-aggregation, or the set of materialised
    pre-aggregation table names that may be used.
    """
    cube = get_cube(query.cube, cubes)
    return Compiler(cube, query, use_preaggregations).compile()
