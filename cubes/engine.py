"""Run cube queries on DuckDB (or on a Spark build of the marts) and return Arrow tables (or polars frames)."""

from __future__ import annotations

import functools
import os
import warnings
import weakref
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


# A catalog lookup costs a few milliseconds, as much as a small cube query. A connection sees the
# pre-aggregations of its own file, which only `materialise` on that connection changes (it calls
# `forget_preaggregations`); a new build is a new file, read through a new connection.
_PREAGGREGATIONS: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, dict[str, str | None]] = (
    weakref.WeakKeyDictionary()
)


def available_preaggregations(
    con: duckdb.DuckDBPyConnection, cubes: dict[str, Cube] | None = None
) -> set[str]:
    """Names of the pre-aggregation tables in ``con`` materialised from the current definitions of
    ``cubes`` (default: the shipped cubes); tables from other definitions are ignored."""
    from cubes.preaggregations import fingerprints

    stored = _PREAGGREGATIONS.get(con)
    if stored is None:
        rows = con.execute(
            "select table_name, comment from duckdb_tables() where schema_name = ?", [PREAGG_SCHEMA]
        ).fetchall()
        stored = {name: comment for name, comment in rows}
        _PREAGGREGATIONS[con] = stored
    expected = fingerprints(cubes)
    return {name for name, comment in stored.items() if comment is not None and expected.get(name) == comment}


def forget_preaggregations(con: duckdb.DuckDBPyConnection) -> None:
    """Look the pre-aggregations of ``con`` up again next time (after creating or dropping some)."""
    _PREAGGREGATIONS.pop(con, None)


@functools.lru_cache(maxsize=4096)
def compile_cached(query: Query, preaggregations: frozenset[str] | None) -> tuple[CompiledQuery, str]:
    """Compile a query of the shipped cube definitions (``None``: no pre-aggregation routing) and render
    its DuckDB SQL. Compiling is pure Python (sqlglot) and costs about as much as running a small query;
    dashboards and BI tools repeat theirs, so compiled queries are kept (queries are immutable values)."""
    routes: bool | set[str] = set(preaggregations) if preaggregations is not None else False
    compiled = compile_query(query, None, routes)
    return compiled, compiled.to_sql("duckdb", copy=False)


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
    compiled = compile_query(
        query, cubes, available_preaggregations(con, cubes) if use_preaggregations else False
    )
    return compiled, compiled.to_sql("duckdb", copy=False)


def compile_for(
    con: duckdb.DuckDBPyConnection,
    query: Query,
    cubes: dict[str, Cube] | None = None,
    use_preaggregations: bool = True,
) -> CompiledQuery:
    return compile_with_sql(con, query, cubes, use_preaggregations)[0]


# DuckDB types whose NumPy fetch converts to Arrow without loss, and the Arrow type DuckDB itself gives them.
_NUMPY_ARROW_TYPES = {
    "BOOLEAN": pa.bool_(),
    "TINYINT": pa.int8(),
    "SMALLINT": pa.int16(),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "FLOAT": pa.float32(),
    "DOUBLE": pa.float64(),
    "VARCHAR": pa.string(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
}


def execute(con: duckdb.DuckDBPyConnection, compiled: CompiledQuery, sql: str | None = None) -> pa.Table:
    try:
        result = con.execute(sql or compiled.to_sql("duckdb"), compiled.params)
        return _to_arrow(result)
    except duckdb.CatalogException as exc:
        raise CubeError(
            f"cube {compiled.cube.name}: the warehouse lacks a table or column the cube reads ({exc}); "
            "rebuild the warehouse or check the cube definition"
        ) from None
    except duckdb.Error as exc:
        raise CubeError(f"cube {compiled.cube.name}: query failed: {exc}") from None


def _to_arrow(result: duckdb.DuckDBPyConnection) -> pa.Table:
    """The rows of an executed query as an Arrow table of the types DuckDB's own Arrow export gives.

    DuckDB's Arrow export of a DB-API result reads the rows again through a second statement (0.3-0.5 ms,
    5-10 % of a small cube query); a NumPy fetch is a column copy. Cube answers are mostly small tables of
    plain types, which take that path; other types (decimals, which NumPy would turn into floats, and
    anything nested) keep DuckDB's export."""
    description = result.description or []
    names = [column[0] for column in description]
    types = [_NUMPY_ARROW_TYPES.get(str(column[1])) for column in description]
    if any(t is None for t in types) or len(set(names)) != len(names):
        # The extra copy DuckDB warns about costs less than the relation API's second parse and bind.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)
            return result.to_arrow_table()
    columns = result.fetchnumpy()
    arrays = []
    for name, arrow_type in zip(names, types, strict=True):
        values = columns[name]
        if arrow_type == pa.date32():
            # NumPy holds DuckDB dates as midnight timestamps.
            arrays.append(pa.array(values, type=pa.timestamp("us")).cast(pa.date32()))
        else:
            arrays.append(pa.array(values, type=arrow_type))
    return pa.Table.from_arrays(arrays, names=names)


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


def spark_session(spark_dir: Path) -> Any:
    """The Spark session of a local Spark build: its Hive metastore and tables under ``spark_dir``
    (the settings' runs directory + /spark, as `crmwh build --target spark` writes them)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise CubeError("the Spark target needs the optional extra: pip install '.[spark]'") from None
    if not (spark_dir / "metastore_db").is_dir():
        raise CubeError(f"no Spark warehouse at {spark_dir}; build it first: crmwh build --target spark")
    return (
        SparkSession.builder.master(os.environ.get("CRMWH_SPARK_MASTER", "local[*]"))
        .config("spark.sql.warehouse.dir", (spark_dir / "warehouse").as_posix())
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL", "jdbc:derby:;databaseName=metastore_db;create=true"
        )
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={spark_dir.as_posix()}")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .enableHiveSupport()
        .getOrCreate()
    )


def run_query_spark(
    spark: Any, query: Query, cubes: dict[str, Cube] | None = None, pivot: bool = True
) -> pa.Table:
    """Answer ``query`` on a Spark session holding the Spark-built marts (``crmwh build --target spark``).

    The same cube definitions compile to Spark SQL with the parameters written as literals (Spark SQL
    has no positional parameters in the session API used here). Pre-aggregations are DuckDB tables
    written after a DuckDB build, so Spark reads the base facts."""
    compiled = compile_query(query, cubes, False)
    sql = compiled.to_sql("spark", inline=True)
    try:
        table = spark.sql(sql).toArrow()
    except Exception as exc:  # pyspark raises its own AnalysisException/ParseException hierarchy
        raise CubeError(
            f"cube {compiled.cube.name}: Spark query failed: {str(exc).splitlines()[0]}"
        ) from None
    table = _without_time_zone(table)
    if pivot and compiled.column_levels:
        return pivot_columns(table, compiled)
    return table


def _without_time_zone(table: pa.Table) -> pa.Table:
    """Spark hands timestamps over as UTC instants; the warehouse convention is naive UTC."""
    fields = [
        pa.field(f.name, pa.timestamp(f.type.unit), f.nullable)
        if pa.types.is_timestamp(f.type) and f.type.tz is not None
        else f
        for f in table.schema
    ]
    return table.cast(pa.schema(fields))


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
