"""Run cube queries on DuckDB and return Arrow tables (or polars frames)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from cubes.compiler import PREAGG_SCHEMA, CompiledQuery, compile_query
from cubes.definitions import Cube
from cubes.errors import CubeError, QueryError
from cubes.query import Query

TOTAL_LABEL = "Total"


@contextmanager
def connect(con_or_path: duckdb.DuckDBPyConnection | str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Use a given connection, or open the warehouse file read-only for the duration."""
    if isinstance(con_or_path, duckdb.DuckDBPyConnection):
        yield con_or_path
        return
    path = Path(con_or_path)
    if not path.exists():
        raise CubeError(f"warehouse {path} does not exist; build it first (crmwh build) or pass --warehouse")
    con = duckdb.connect(str(path), read_only=True)
    con.execute("set enable_progress_bar = false")
    try:
        yield con
    finally:
        con.close()


def available_preaggregations(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = ?", [PREAGG_SCHEMA]
    ).fetchall()
    return {r[0] for r in rows}


@functools.lru_cache(maxsize=4096)
def compile_cached(query: Query, preaggregations: frozenset[str] | None) -> tuple[CompiledQuery, str]:
    """Compile a query of the shipped cube definitions (``None``: no pre-aggregation routing) and render
    its DuckDB SQL. Compiling is pure Python (sqlglot) and costs about as much as running a small query;
    dashboards and BI tools repeat theirs, so compiled queries are kept (queries are immutable values)."""
    routes: bool | set[str] = set(preaggregations) if preaggregations is not None else False
    compiled = compile_query(query, None, routes)
    return compiled, compiled.to_sql("duckdb")


def compile_with_sql(
    con: duckdb.DuckDBPyConnection,
    query: Query,
    cubes: dict[str, Cube] | None = None,
    use_preaggregations: bool = True,
) -> tuple[CompiledQuery, str]:
    """The compiled query and its DuckDB SQL, routed to the pre-aggregations present in ``con``."""
    if cubes is None:
        routes = frozenset(available_preaggregations(con)) if use_preaggregations else None
        return compile_cached(query, routes)
    compiled = compile_query(query, cubes, available_preaggregations(con) if use_preaggregations else False)
    return compiled, compiled.to_sql("duckdb")


def compile_for(
    con: duckdb.DuckDBPyConnection,
    query: Query,
    cubes: dict[str, Cube] | None = None,
    use_preaggregations: bool = True,
) -> CompiledQuery:
    return compile_with_sql(con, query, cubes, use_preaggregations)[0]


def execute(con: duckdb.DuckDBPyConnection, compiled: CompiledQuery, sql: str | None = None) -> pa.Table:
    try:
        return con.sql(sql or compiled.to_sql("duckdb"), params=compiled.params).to_arrow_table()
    except duckdb.CatalogException as exc:
        raise CubeError(
            f"cube {compiled.cube.name}: the warehouse lacks a table or column the cube reads ({exc}); "
            "rebuild the warehouse or check the cube definition"
        ) from None
    except duckdb.Error as exc:
        raise CubeError(f"cube {compiled.cube.name}: query failed: {exc}") from None


def run_query(
    con_or_path: duckdb.DuckDBPyConnection | str | Path,
    query: Query,
    cubes: dict[str, Cube] | None = None,
    use_preaggregations: bool = True,
    pivot: bool = True,
) -> pa.Table:
    """Answer ``query``. Long form (one row per cell) unless the query has columns and ``pivot`` is on,
    in which case column-level members become columns (missing cells, e.g. censored cohorts, are NULL)."""
    with connect(con_or_path) as con:
        compiled, sql = compile_with_sql(con, query, cubes, use_preaggregations)
        table = execute(con, compiled, sql)
    if pivot and compiled.column_levels:
        return pivot_columns(table, compiled)
    return table


def run_query_polars(con_or_path: duckdb.DuckDBPyConnection | str | Path, query: Query, **kwargs: Any) -> Any:
    import polars as pl

    return pl.from_arrow(run_query(con_or_path, query, **kwargs))


def _member_label(value: Any, is_total: bool) -> str:
    return TOTAL_LABEL if is_total else ("(null)" if value is None else str(value))


def pivot_columns(table: pa.Table, compiled: CompiledQuery) -> pa.Table:
    """Long form -> cross-tab: one row per row-level member, one column per (column member, measure)."""
    totals = compiled.query.totals
    rows = table.to_pylist()
    row_keys: list[tuple[Any, ...]] = []
    cells: dict[tuple[Any, ...], dict[str, Any]] = {}
    column_names: list[str] = []
    row_fields = [*compiled.row_levels, *([f"{a}__total" for a in compiled.row_levels] if totals else [])]
    for record in rows:
        key = tuple(record[f] for f in row_fields)
        if key not in cells:
            cells[key] = {}
            row_keys.append(key)
        label = " / ".join(
            _member_label(record[a], bool(totals and record[f"{a}__total"])) for a in compiled.column_levels
        )
        for m in compiled.measures:
            name = label if len(compiled.measures) == 1 else f"{m} | {label}"
            if name not in column_names:
                column_names.append(name)
            cells[key][name] = record[m]
    out: dict[str, list[Any]] = {f: [k[i] for k in row_keys] for i, f in enumerate(row_fields)}
    for name in column_names:
        out[name] = [cells[k].get(name) for k in row_keys]
    schema_fields = [table.schema.field(f) for f in row_fields]
    measure_types = {m: table.schema.field(m).type for m in compiled.measures}
    for name in column_names:
        m = name.split(" | ")[0] if len(compiled.measures) > 1 else compiled.measures[0]
        schema_fields.append(pa.field(name, measure_types[m]))
    if not out and not row_fields:
        raise QueryError("nothing to pivot")
    return pa.Table.from_pydict(out, schema=pa.schema(schema_fields))
