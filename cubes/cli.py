"""``crmwh query`` and ``crmwh cubes``: register(app) adds them to the warehouse CLI."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from cubes.errors import CubeError
from cubes.query import Drill, Query, TopN, parse_filter, parse_order


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def format_rows(records: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([{k: _jsonable(v) for k, v in r.items()} for r in records], indent=2)
    if not records:
        return "(no rows)"
    headers = list(records[0])
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(headers)
        for r in records:
            writer.writerow(["" if r[h] is None else _jsonable(r[h]) for h in headers])
        return buf.getvalue()
    cells = [[_display(r[h]) for h in headers] for r in records]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    body = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(_jsonable(value))


def _label_totals(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in records:
        flags = {k for k in r if k.endswith("__total")}
        clean = {k: v for k, v in r.items() if k not in flags}
        for flag in flags:
            if r[flag]:
                clean[flag.removesuffix("__total")] = "Total"
        out.append(clean)
    return out


def register(app: typer.Typer) -> None:
    """Add the ``query`` and ``cubes`` commands to ``app``."""

    @app.command("query")
    def query_command(
        cube: Annotated[str, typer.Argument(help="Cube name (see crmwh cubes).")],
        measure: Annotated[
            list[str],
            typer.Option(
                "--measure",
                "-m",
                help="Measure; name@ytd, @previous_period, @same_period_last_year, @rolling_3m for time intelligence.",
            ),
        ],
        row: Annotated[
            list[str] | None, typer.Option("--row", "-r", help="Level on rows, dimension.level.")
        ] = None,
        column: Annotated[
            list[str] | None, typer.Option("--column", "-c", help="Level on columns (cross-tab).")
        ] = None,
        filter_: Annotated[
            list[str] | None,
            typer.Option("--filter", "-f", help="LEVEL=V, LEVEL=V1,V2, LEVEL!=V, LEVEL>=V, LEVEL=LOW..HIGH"),
        ] = None,
        drill_down: Annotated[
            list[str] | None,
            typer.Option("--drill-down", help="LEVEL or LEVEL=MEMBER: replace a level by its child."),
        ] = None,
        drill_up: Annotated[
            list[str] | None, typer.Option("--drill-up", help="LEVEL: replace a level by its parent.")
        ] = None,
        top: Annotated[
            int | None, typer.Option("--top", help="Keep the N rows with the highest first measure.")
        ] = None,
        bottom: Annotated[
            int | None, typer.Option("--bottom", help="Keep the N rows with the lowest first measure.")
        ] = None,
        order: Annotated[
            list[str] | None, typer.Option("--order", help="FIELD, FIELD:desc or -FIELD.")
        ] = None,
        totals: Annotated[bool, typer.Option("--totals", help="Add subtotals and grand totals.")] = False,
        as_now: Annotated[
            bool,
            typer.Option(
                "--as-now", help="Slice customers by their current version instead of as at fact time."
            ),
        ] = False,
        fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = OutputFormat.table,
        sql: Annotated[bool, typer.Option("--sql", help="Print the SQL instead of running it.")] = False,
        dialect: Annotated[str, typer.Option("--dialect", help="SQL dialect for --sql.")] = "duckdb",
        warehouse: Annotated[Path | None, typer.Option("--warehouse", help="DuckDB warehouse file.")] = None,
        no_preaggregations: Annotated[
            bool, typer.Option("--no-preaggregations", help="Always read the base facts.")
        ] = False,
        target: Annotated[
            str,
            typer.Option(
                "--target", help="Engine holding the marts: duckdb, or spark (crmwh build --target spark)."
            ),
        ] = "duckdb",
    ) -> None:
        """Query a cube: measures by levels, with filters, drills, top N and totals."""
        from cubes.compiler import compile_query
        from cubes.engine import run_query

        drills = []
        for item in drill_down or ():
            level, _, member = item.partition("=")
            drills.append(Drill(level, "down", member or None))
        drills += [Drill(level, "up") for level in drill_up or ()]
        ranked = top or bottom
        q = Query(
            cube,
            tuple(measure),
            rows=tuple(row or ()),
            columns=tuple(column or ()),
            filters=tuple(parse_filter(f) for f in filter_ or ()),
            drills=tuple(drills),
            top=TopN(ranked, measure[0], bottom=bottom is not None) if ranked else None,
            order=tuple(parse_order(o) for o in order or ()),
            totals=totals,
            customer_version="current" if as_now else "as_at",
        )
        if sql:
            compiled = compile_query(q)
            typer.echo(compiled.to_sql(dialect, inline=dialect != "duckdb", pretty=True))
            if dialect == "duckdb" and compiled.params:
                typer.echo(f"-- parameters: {json.dumps([_jsonable(p) for p in compiled.params])}")
            return
        if target == "spark":
            from cubes.engine import run_query_spark, spark_session

            table = run_query_spark(spark_session(_default_spark_dir()), q)
        elif target == "duckdb":
            path = warehouse or _default_warehouse()
            table = run_query(path, q, use_preaggregations=not no_preaggregations)
        else:
            raise CubeError(f"unknown target {target!r}; one of duckdb, spark")
        typer.echo(format_rows(_label_totals(table.to_pylist()), fmt.value))

    @app.command("cubes")
    def cubes_command(
        as_json: Annotated[bool, typer.Option("--json", help="Print the catalog as JSON.")] = False,
    ) -> None:
        """List cubes, their dimensions, hierarchies and levels, and their measures."""
        from cubes.catalog import catalog, render_catalog

        entries = catalog()
        typer.echo(json.dumps(entries, indent=2) if as_json else render_catalog(entries))


def _default_warehouse() -> Path:
    try:
        from warehouse.config import load_settings
    except ImportError as exc:
        raise CubeError(f"cannot read the configuration ({exc}); pass --warehouse") from None
    return load_settings().warehouse_path


def _default_spark_dir() -> Path:
    try:
        from warehouse.build import spark_dir
        from warehouse.config import load_settings
    except ImportError as exc:
        raise CubeError(f"cannot read the configuration ({exc})") from None
    return spark_dir(load_settings())
