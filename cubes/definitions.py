"""Cube definitions: YAML data loaded into typed dataclasses and validated.

The format is engine-neutral (facts, dimensions with levels and hierarchies, measures as aggregations
of fact columns, ratios of measures, pre-aggregations); this module knows nothing about SQL generation.
``dimensions.yml`` holds the shared dimension tables; every other ``*.yml`` in the definitions folder
is one cube that plays those dimensions against its facts (role-playing: one table, several joins).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import sqlglot
import yaml
from sqlglot import exp

from cubes.errors import DefinitionError

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"
SHARED_DIMENSIONS_FILE = "dimensions.yml"

AGGREGATIONS = {"count", "count_distinct", "sum", "avg", "median", "percentile", "min", "max"}
ADDITIVE_AGGREGATIONS = {"count", "sum", "avg"}
FORMATS = {"percent", "currency", "duration", "number", "integer"}
LEVEL_TYPES = {"string", "integer", "date", "boolean", "number"}
PERIODS = {"day", "week", "month", "quarter", "year"}


@dataclass(frozen=True)
class Level:
    name: str
    column: str
    type: str = "string"
    description: str = ""
    period: str | None = None  # calendar length of one member, for time intelligence


@dataclass(frozen=True)
class Type2:
    natural_key: str
    valid_from: str
    valid_to: str
    is_current: str


@dataclass(frozen=True)
class DimensionTable:
    name: str
    table: str
    key: str
    levels: dict[str, Level]
    hierarchies: dict[str, tuple[str, ...]]
    attributes: tuple[str, ...] = ()
    type2: Type2 | None = None
    description: str = ""

    @property
    def columns(self) -> set[str]:
        cols = {self.key, *self.attributes, *(lv.column for lv in self.levels.values())}
        if self.type2:
            cols |= {
                self.type2.natural_key,
                self.type2.valid_from,
                self.type2.valid_to,
                self.type2.is_current,
            }
        return cols


@dataclass(frozen=True)
class Fact:
    name: str
    table: str
    columns: tuple[str, ...]
    time_column: str | None = None  # the fact's own time, for 'as at fact time' type-2 joins
    description: str = ""


@dataclass(frozen=True)
class CubeDimension:
    """A dimension as played in one cube: a shared table joined per fact, or degenerate fact columns."""

    name: str
    joins: dict[str, str | None]  # fact name -> fact column holding the dimension key (None: degenerate)
    table: DimensionTable | None
    levels: dict[str, Level]
    hierarchies: dict[str, tuple[str, ...]]
    description: str = ""

    @property
    def is_degenerate(self) -> bool:
        return self.table is None

    def parent_of(self, level: str) -> str | None:
        for chain in self.hierarchies.values():
            if level in chain and chain.index(level) > 0:
                return chain[chain.index(level) - 1]
        return None

    def child_of(self, level: str) -> str | None:
        for chain in self.hierarchies.values():
            if level in chain and chain.index(level) < len(chain) - 1:
                return chain[chain.index(level) + 1]
        return None


@dataclass(frozen=True)
class Measure:
    name: str
    description: str
    format: str
    kind: str  # 'aggregate' | 'ratio'
    fact: str | None = None
    aggregation: str | None = None
    column: str | None = None
    expression: str | None = None
    where: str | None = None
    percentile: float | None = None
    numerator: tuple[str, ...] = ()
    denominator: tuple[str, ...] = ()
    hidden: bool = False

    @property
    def value_sql(self) -> str | None:
        return self.expression if self.expression is not None else self.column


@dataclass(frozen=True)
class PreAggregation:
    """Additive (default): building blocks per group of ``levels``, summed to any coarser grain.

    Exact: every measure's true aggregate (medians, distinct counts too) stored for each grouping set of
    ``grouping_sets`` only; a query is answered from it only when each grouping set it needs is stored.
    """

    name: str
    fact: str
    levels: tuple[str, ...]  # 'dimension.level'
    measures: tuple[str, ...]
    customer_version: str = "as_at"
    exact: bool = False
    grouping_sets: tuple[frozenset[str], ...] = ()


@dataclass(frozen=True)
class Cube:
    name: str
    description: str
    facts: dict[str, Fact]
    dimensions: dict[str, CubeDimension]
    measures: dict[str, Measure]
    preaggregations: tuple[PreAggregation, ...] = ()
    source: Path | None = None

    def level(self, address: str) -> tuple[CubeDimension, Level]:
        """Resolve 'dimension.level'; a precise QueryError-compatible message if it does not exist."""
        dim_name, _, level_name = address.partition(".")
        dim = self.dimensions.get(dim_name)
        if dim is None or not level_name:
            raise DefinitionError(
                f"cube {self.name}: unknown level {address!r}; levels are "
                + ", ".join(self.level_addresses())
            )
        lv = dim.levels.get(level_name)
        if lv is None:
            raise DefinitionError(
                f"cube {self.name}: dimension {dim_name} has no level {level_name!r}; "
                f"its levels are {', '.join(dim.levels)}"
            )
        return dim, lv

    def level_addresses(self) -> list[str]:
        return [f"{d.name}.{lv}" for d in self.dimensions.values() for lv in d.levels]

    def leaf_measures(self, name: str) -> list[Measure]:
        """The aggregate measures a measure is computed from (itself if it is an aggregate)."""
        m = self.measures[name]
        if m.kind == "aggregate":
            return [m]
        out: list[Measure] = []
        for part in (*m.numerator, *m.denominator):
            for leaf in self.leaf_measures(part):
                if leaf not in out:
                    out.append(leaf)
        return out

    def is_additive(self, name: str) -> bool:
        return all(leaf.aggregation in ADDITIVE_AGGREGATIONS for leaf in self.leaf_measures(name))


def _req(data: dict[str, Any], key: str, where: str) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise DefinitionError(f"{where}: missing required key {key!r}")
    return data[key]


def _parse_level(name: str, spec: Any, where: str) -> Level:
    if isinstance(spec, str):
        spec = {"column": spec}
    if not isinstance(spec, dict):
        raise DefinitionError(f"{where}: level {name} must be a column name or a mapping")
    level = Level(
        name=name,
        column=str(_req(spec, "column", f"{where}: level {name}")),
        type=str(spec.get("type", "string")),
        description=str(spec.get("description", "")),
        period=spec.get("period"),
    )
    if level.type not in LEVEL_TYPES:
        raise DefinitionError(
            f"{where}: level {name}: unknown type {level.type!r} (one of {sorted(LEVEL_TYPES)})"
        )
    if level.period is not None and level.period not in PERIODS:
        raise DefinitionError(
            f"{where}: level {name}: unknown period {level.period!r} (one of {sorted(PERIODS)})"
        )
    return level


def _parse_hierarchies(
    spec: dict[str, Any] | None, levels: dict[str, Level], where: str
) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for name, chain in (spec or {}).items():
        if not isinstance(chain, list) or not chain:
            raise DefinitionError(f"{where}: hierarchy {name} must be a non-empty list of levels, top first")
        seen: list[str] = []
        for lv in chain:
            if lv not in levels:
                raise DefinitionError(
                    f"{where}: hierarchy {name} names unknown level {lv!r}; levels are {', '.join(levels)}"
                )
            if lv in seen:
                path = " -> ".join([*seen, lv])
                raise DefinitionError(
                    f"{where}: cycle in hierarchy {name}: level {lv!r} appears twice ({path})"
                )
            seen.append(lv)
        out[name] = tuple(chain)
    return out


def _parse_dimension_table(name: str, spec: dict[str, Any], where: str) -> DimensionTable:
    where = f"{where}: dimension {name}"
    levels = {ln: _parse_level(ln, ls, where) for ln, ls in (_req(spec, "levels", where) or {}).items()}
    t2 = spec.get("type2")
    return DimensionTable(
        name=name,
        table=str(_req(spec, "table", where)),
        key=str(_req(spec, "key", where)),
        levels=levels,
        hierarchies=_parse_hierarchies(spec.get("hierarchies"), levels, where),
        attributes=tuple(spec.get("attributes", ())),
        type2=Type2(**t2) if t2 else None,
        description=str(spec.get("description", "")),
    )


def _names_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _parse_measure(name: str, spec: dict[str, Any], where: str) -> Measure:
    where = f"{where}: measure {name}"
    if not isinstance(spec, dict):
        raise DefinitionError(f"{where}: must be a mapping")
    fmt = str(spec.get("format", "number"))
    if fmt not in FORMATS:
        raise DefinitionError(f"{where}: unknown format {fmt!r} (one of {sorted(FORMATS)})")
    description = (
        str(_req(spec, "description", where)) if not spec.get("hidden") else str(spec.get("description", ""))
    )
    if "numerator" in spec or "denominator" in spec:
        return Measure(
            name=name,
            description=description,
            format=fmt,
            kind="ratio",
            numerator=_names_list(_req(spec, "numerator", where)),
            denominator=_names_list(_req(spec, "denominator", where)),
            hidden=bool(spec.get("hidden", False)),
        )
    aggregation = str(_req(spec, "aggregation", where))
    if aggregation not in AGGREGATIONS:
        raise DefinitionError(f"{where}: unknown aggregation {aggregation!r} (one of {sorted(AGGREGATIONS)})")
    if aggregation != "count" and "column" not in spec and "expression" not in spec:
        raise DefinitionError(f"{where}: aggregation {aggregation} needs a column or an expression")
    if aggregation == "percentile" and not 0 < float(spec.get("percentile", -1)) < 1:
        raise DefinitionError(f"{where}: aggregation percentile needs percentile: between 0 and 1")
    return Measure(
        name=name,
        description=description,
        format=fmt,
        kind="aggregate",
        fact=str(_req(spec, "fact", where)),
        aggregation=aggregation,
        column=spec.get("column"),
        expression=spec.get("expression"),
        where=spec.get("where"),
        percentile=float(spec["percentile"]) if "percentile" in spec else None,
        hidden=bool(spec.get("hidden", False)),
    )


def parse_cube(data: dict[str, Any], shared: dict[str, DimensionTable], source: Path | None = None) -> Cube:
    """Build and validate one cube from its YAML mapping and the shared dimension tables."""
    where = f"cube {data.get('name', source.stem if source else '?')}"
    name = str(_req(data, "name", where))
    facts: dict[str, Fact] = {}
    for fname, fspec in (_req(data, "facts", where) or {}).items():
        fw = f"{where}: fact {fname}"
        facts[fname] = Fact(
            name=fname,
            table=str(_req(fspec, "table", fw)),
            columns=tuple(_req(fspec, "columns", fw)),
            time_column=fspec.get("time_column"),
            description=str(fspec.get("description", "")),
        )
    dimensions: dict[str, CubeDimension] = {}
    for dname, dspec in (data.get("dimensions") or {}).items():
        dw = f"{where}: dimension {dname}"
        if "source" in dspec:
            table = shared.get(dspec["source"])
            if table is None:
                raise DefinitionError(
                    f"{dw}: unknown shared dimension {dspec['source']!r}; known: {', '.join(sorted(shared))}"
                )
            joins = dict(_req(dspec, "joins", dw))
            wanted = dspec.get("levels")
            levels = {k: v for k, v in table.levels.items() if wanted is None or k in wanted}
            for lv in wanted or ():
                if lv not in table.levels:
                    raise DefinitionError(f"{dw}: shared dimension {table.name} has no level {lv!r}")
            hierarchies = {
                h: chain for h, chain in table.hierarchies.items() if all(lv in levels for lv in chain)
            }
            dimensions[dname] = CubeDimension(dname, joins, table, levels, hierarchies, table.description)
        else:
            levels = {ln: _parse_level(ln, ls, dw) for ln, ls in (_req(dspec, "levels", dw) or {}).items()}
            joins = {f: None for f in _req(dspec, "facts", dw)}
            dimensions[dname] = CubeDimension(
                dname,
                joins,
                None,
                levels,
                _parse_hierarchies(dspec.get("hierarchies"), levels, dw),
                str(dspec.get("description", "")),
            )
    measures = {mn: _parse_measure(mn, ms, where) for mn, ms in (_req(data, "measures", where) or {}).items()}
    preaggs = tuple(_parse_preaggregation(p, where) for p in data.get("preaggregations") or ())
    cube = Cube(name, str(data.get("description", "")), facts, dimensions, measures, preaggs, source)
    validate_cube(cube)
    return cube


def _parse_preaggregation(spec: Any, where: str) -> PreAggregation:
    pw = f"{where}: pre-aggregation {spec.get('name') if isinstance(spec, dict) else '?'}"
    levels = tuple(_req(spec, "levels", pw))
    exact = spec.get("exact", False)
    if not isinstance(exact, bool):
        raise DefinitionError(f"{pw}: exact must be true or false")
    sets_spec = spec.get("grouping_sets")
    if sets_spec is not None and not exact:
        raise DefinitionError(
            f"{pw}: grouping_sets are only for exact pre-aggregations (additive ones roll up any subset "
            "of their levels); add exact: true or remove grouping_sets"
        )
    if sets_spec is None:
        grouping_sets: tuple[frozenset[str], ...] = (frozenset(levels),) if exact else ()
    else:
        if (
            not isinstance(sets_spec, list)
            or not all(isinstance(g, list) for g in sets_spec)
            or not sets_spec
        ):
            raise DefinitionError(
                f"{pw}: grouping_sets must be a non-empty list of lists of levels ([] = total)"
            )
        grouping_sets = tuple(frozenset(g) for g in sets_spec)
        for g, raw in zip(grouping_sets, sets_spec, strict=True):
            unknown = [a for a in raw if a not in levels]
            if unknown:
                raise DefinitionError(
                    f"{pw}: grouping set {raw} names {', '.join(unknown)}, not among its levels {list(levels)}"
                )
            if len(g) != len(raw):
                raise DefinitionError(f"{pw}: grouping set {raw} names a level twice")
        if len(set(grouping_sets)) != len(grouping_sets):
            raise DefinitionError(f"{pw}: a grouping set is listed twice")
    return PreAggregation(
        name=str(_req(spec, "name", f"{where}: pre-aggregation")),
        fact=str(_req(spec, "fact", pw)),
        levels=levels,
        measures=tuple(_req(spec, "measures", pw)),
        customer_version=str(spec.get("customer_version", "as_at")),
        exact=exact,
        grouping_sets=grouping_sets,
    )


def expression_columns(sql: str, where: str) -> list[exp.Column]:
    """Columns used by a definition expression; refuses anything but scalar expressions."""
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise DefinitionError(f"{where}: cannot parse expression {sql!r}: {exc}") from None
    forbidden = (exp.Select, exp.Subquery, exp.Query, exp.Command, exp.Star)
    for node in tree.walk():
        if isinstance(node, forbidden):
            raise DefinitionError(f"{where}: expression {sql!r} must be scalar (no subqueries or *)")
    return list(tree.find_all(exp.Column))


def validate_cube(cube: Cube) -> None:
    """Static validation: every reference resolves, no cycles, pre-aggregations are answerable."""
    where = f"cube {cube.name}"
    if not cube.facts:
        raise DefinitionError(f"{where}: declares no facts")
    for dim in cube.dimensions.values():
        for fact_name, column in dim.joins.items():
            fact = cube.facts.get(fact_name)
            if fact is None:
                raise DefinitionError(
                    f"{where}: dimension {dim.name} joins unknown fact {fact_name!r}; facts are {', '.join(cube.facts)}"
                )
            needed = [column] if column is not None else [lv.column for lv in dim.levels.values()]
            for col in needed:
                if col not in fact.columns:
                    raise DefinitionError(
                        f"{where}: dimension {dim.name}: unknown column {col!r} in fact {fact_name} ({fact.table})"
                    )
            if dim.table and dim.table.type2 and fact.time_column is None:
                raise DefinitionError(
                    f"{where}: fact {fact_name} joins type-2 dimension {dim.name} but declares no time_column"
                )
    for fact in cube.facts.values():
        if fact.time_column and fact.time_column not in fact.columns:
            raise DefinitionError(f"{where}: fact {fact.name}: unknown time_column {fact.time_column!r}")
    for m in cube.measures.values():
        mw = f"{where}: measure {m.name}"
        if m.kind == "ratio":
            for part in (*m.numerator, *m.denominator):
                if part not in cube.measures:
                    raise DefinitionError(f"{mw}: references unknown measure {part!r}")
            continue
        fact = cube.facts.get(m.fact or "")
        if fact is None:
            raise DefinitionError(
                f"{mw}: references missing fact {m.fact!r}; facts are {', '.join(cube.facts)}"
            )
        for text in (m.value_sql, m.where):
            if text is None:
                continue
            for col in expression_columns(text, mw):
                _check_measure_column(cube, fact, col, mw)
    for m in cube.measures.values():
        _check_no_cycle(cube, m.name, [])
    names = [p.name for p in cube.preaggregations]
    for p in cube.preaggregations:
        pw = f"{where}: pre-aggregation {p.name}"
        if names.count(p.name) > 1:
            raise DefinitionError(f"{pw}: the name is used by another pre-aggregation of the cube")
        if p.exact and not p.levels:
            raise DefinitionError(f"{pw}: an exact pre-aggregation needs at least one level")
        unused = [a for a in p.levels if not any(a in g for g in p.grouping_sets)]
        if p.exact and unused:
            raise DefinitionError(
                f"{pw}: level(s) {', '.join(unused)} are in no grouping set; add them to one or remove them"
            )
        if p.fact not in cube.facts:
            raise DefinitionError(f"{pw}: unknown fact {p.fact!r}")
        if p.customer_version not in {"as_at", "current"}:
            raise DefinitionError(f"{pw}: customer_version must be as_at or current")
        for address in p.levels:
            dim_name, _, level_name = address.partition(".")
            dim = cube.dimensions.get(dim_name)
            if dim is None or level_name not in dim.levels:
                raise DefinitionError(f"{pw}: unknown level {address!r}")
            if p.fact not in dim.joins:
                raise DefinitionError(f"{pw}: level {address} does not apply to fact {p.fact}")
        for mname in p.measures:
            if mname not in cube.measures:
                raise DefinitionError(f"{pw}: unknown measure {mname!r}")
            if not p.exact and not cube.is_additive(mname):
                raise DefinitionError(
                    f"{pw}: measure {mname} is not additive (distinct counts, medians, percentiles, min/max "
                    "cannot be rolled up from a pre-aggregation); declare an exact pre-aggregation "
                    "(exact: true, grouping_sets: the level sets to store) for it"
                )
            facts = {leaf.fact for leaf in cube.leaf_measures(mname)}
            if facts != {p.fact}:
                raise DefinitionError(f"{pw}: measure {mname} reads fact(s) {sorted(facts)}, not {p.fact}")


def _check_measure_column(cube: Cube, fact: Fact, col: exp.Column, where: str) -> None:
    if not col.table:
        if col.name not in fact.columns:
            raise DefinitionError(f"{where}: unknown column {col.name!r} in fact {fact.name} ({fact.table})")
        return
    dim = cube.dimensions.get(col.table)
    if dim is None or dim.table is None:
        raise DefinitionError(f"{where}: unknown dimension {col.table!r} in {col.sql()}")
    if fact.name not in dim.joins:
        raise DefinitionError(f"{where}: dimension {dim.name} does not join fact {fact.name}")
    if col.name not in dim.table.columns:
        raise DefinitionError(
            f"{where}: unknown column {col.name!r} in dimension {dim.name} ({dim.table.table})"
        )


def _check_no_cycle(cube: Cube, name: str, path: list[str]) -> None:
    if name in path:
        raise DefinitionError(f"cube {cube.name}: measure cycle {' -> '.join([*path, name])}")
    m = cube.measures[name]
    for part in (*m.numerator, *m.denominator):
        _check_no_cycle(cube, part, [*path, name])


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise DefinitionError(f"{path}: expected a mapping at the top level")
    return data


def parse_shared_dimensions(data: dict[str, Any], where: str = "dimensions.yml") -> dict[str, DimensionTable]:
    return {n: _parse_dimension_table(n, s, where) for n, s in (data.get("dimensions") or {}).items()}


def load_cubes(directory: Path | None = None) -> dict[str, Cube]:
    """Every cube of a definitions folder, validated."""
    directory = directory or DEFINITIONS_DIR
    shared_path = directory / SHARED_DIMENSIONS_FILE
    shared = parse_shared_dimensions(load_yaml(shared_path), str(shared_path)) if shared_path.exists() else {}
    cubes: dict[str, Cube] = {}
    for path in sorted(directory.glob("*.yml")):
        if path.name == SHARED_DIMENSIONS_FILE:
            continue
        cube = parse_cube(load_yaml(path), shared, path)
        if cube.name in cubes:
            raise DefinitionError(f"{path}: cube {cube.name} is defined twice")
        cubes[cube.name] = cube
    return cubes


@cache
def default_cubes() -> dict[str, Cube]:
    return load_cubes(DEFINITIONS_DIR)


def get_cube(name: str, cubes: dict[str, Cube] | None = None) -> Cube:
    cubes = cubes if cubes is not None else default_cubes()
    if name not in cubes:
        raise DefinitionError(f"unknown cube {name!r}; cubes are {', '.join(sorted(cubes))}")
    return cubes[name]


def validate_against_warehouse(cube: Cube, con: Any) -> None:
    """Check every table and column the cube reads exists in the live warehouse (a DuckDB connection)."""
    rows = con.execute(
        "select table_schema, table_name, column_name from information_schema.columns"
    ).fetchall()
    live: dict[str, set[str]] = {}
    for schema, table, column in rows:
        live.setdefault(f"{schema}.{table}".lower(), set()).add(column.lower())
    problems: list[str] = []

    def check(table: str, columns: set[str], what: str) -> None:
        have = live.get(table.lower())
        if have is None:
            problems.append(f"{what}: table {table} not found in the warehouse")
            return
        for col in sorted(columns):
            if col.lower() not in have:
                problems.append(
                    f"{what}: unknown column {col!r} in {table} (it has {', '.join(sorted(have))})"
                )

    for fact in cube.facts.values():
        check(fact.table, set(fact.columns), f"cube {cube.name}: fact {fact.name}")
    seen: set[str] = set()
    for dim in cube.dimensions.values():
        if dim.table and dim.table.name not in seen:
            seen.add(dim.table.name)
            check(dim.table.table, dim.table.columns, f"cube {cube.name}: dimension {dim.table.name}")
    if problems:
        raise DefinitionError("; ".join(problems))
