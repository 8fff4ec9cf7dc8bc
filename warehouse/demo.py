"""`make demo`: the main job end to end on generated data, printing what was produced and where.

generate -> ingest -> build (dbt) -> lifetime-value fit + cube pre-aggregations -> a few cube results.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.table import Table

from warehouse.config import Settings, load_settings
from warehouse.errors import WarehouseError

# Piped output (CI, `make demo | tee`) gets a wide page instead of rich's 80-column default.
console = Console() if sys.stdout.isatty() else Console(width=140)
T = TypeVar("T")

DEMO_QUERIES: list[tuple[str, dict[str, Any]]] = [
    (
        "Win rate by close quarter and lead-source group",
        {
            "cube": "pipeline",
            "measures": ["win_rate"],
            "rows": ["close_date.quarter"],
            "columns": ["campaign.source_group"],
            "filters": [("close_date.quarter", "lte", ("2026-Q4",))],
        },
    ),
    (
        "First-response p90 by channel, business seconds, with SLA attainment",
        {
            "cube": "service",
            "measures": ["first_responses", "first_response_business_seconds_p90", "sla_attainment"],
            "rows": ["channel.group", "channel.channel"],
        },
    ),
    (
        "Retention rate of the last 6 acquisition cohorts by months since acquisition",
        {
            "cube": "retention",
            "measures": ["retention_rate"],
            "rows": ["cohort.month"],
            "columns": ["age.months_since_acquisition"],
            "filters": [("age.months_since_acquisition", "lte", (6,))],
        },
    ),
    (
        "Segments by predicted 12-month value",
        {
            "cube": "customer_value",
            "measures": [
                "customers",
                "predicted_value_12m",
                "predicted_value_12m_mean",
                "probability_alive_mean",
            ],
            "rows": ["customer.segment"],
            "order": [("predicted_value_12m", True)],
        },
    ),
]


def _step(name: str, work: Callable[[], T]) -> T:
    started = time.perf_counter()
    with console.status(f"{name} ...", spinner="dots") if console.is_terminal else _nullcontext():
        result = work()
    console.print(f"[green]done[/] {name} in {time.perf_counter() - started:.1f} s")
    return result


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def run_demo(settings: Settings, scale: str, seed: int) -> int:
    from ingest.run import ingest_paths
    from warehouse.build import build
    from warehouse.generate import generate_extracts
    from warehouse.postbuild import finish_warehouse
    from warehouse.report import DEFAULT_REPORT_NAME, build_report

    progress = console.is_terminal and not os.environ.get("CI")
    console.rule(f"crmwh demo: scale={scale} seed={seed}")
    summary = _step(
        "generate extracts",
        lambda: generate_extracts(settings.inbox_dir, scale=scale, seed=seed, progress=progress),
    )
    console.print(summary.render())
    report = _step("ingest into the Parquet lake", lambda: ingest_paths(settings, None, progress=progress))
    console.print(report.render())
    result = _step("build the warehouse with dbt", lambda: build(settings))
    console.print(result.render())
    if not result.ok:
        return 1
    _step(
        "refit lifetime-value models, create cube views and pre-aggregations",
        lambda: finish_warehouse(settings.warehouse_path, settings),
    )
    _print_cube_results(settings)
    dashboard = _step(
        "write the dashboard",
        lambda: build_report(settings, settings.warehouse_path.parent / DEFAULT_REPORT_NAME),
    )
    _print_where(settings, dashboard)
    return 0


def _print_cube_results(settings: Settings) -> None:
    from cubes.engine import run_query
    from cubes.query import Filter, OrderBy, Query

    for title, spec in DEMO_QUERIES:
        query = Query(
            cube=spec["cube"],
            measures=spec["measures"],
            rows=spec.get("rows", ()),
            columns=spec.get("columns", ()),
            filters=tuple(Filter(level, op, values) for level, op, values in spec.get("filters", ())),
            order=tuple(OrderBy(field, descending) for field, descending in spec.get("order", ())),
        )
        console.print(_arrow_to_rich(title, run_query(settings.warehouse_path, query)))


def _arrow_to_rich(title: str, table: Any, limit: int = 12) -> Table:
    rich_table = Table(title=title, title_justify="left")
    for name in table.column_names:
        rich_table.add_column(name, justify="right")
    for row in table.slice(max(0, table.num_rows - limit)).to_pylist():
        rich_table.add_row(
            *("" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values())
        )
    return rich_table


def _print_where(settings: Settings, dashboard: Path) -> None:
    table = Table(title="What was produced, and where", title_justify="left")
    table.add_column("what")
    table.add_column("where")
    rows = [
        ("extracts (inbox)", settings.inbox_dir),
        ("Parquet lake, rejects, manifest", settings.lake_dir),
        ("DuckDB warehouse", settings.warehouse_path),
        ("dbt artefacts, run reports", settings.runs_dir),
        ("dashboard (open in a browser, works offline)", dashboard),
    ]
    for what, where in rows:
        table.add_row(what, str(where))
    console.print(table)
    serve = settings.serve
    console.print(
        f"Open it: [bold]duckdb -readonly {settings.warehouse_path}[/]  or  "
        "[bold].venv/bin/crmwh query pipeline -m win_rate -r close_date.quarter[/]"
    )
    console.print(
        f"Pivot explorer: start [bold].venv/bin/crmwh serve[/] (with a token, see README) and open "
        f"[bold]http://{serve.host}:{serve.port}/explorer/[/]"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default=os.environ.get("DEMO_SCALE", "small"))
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    try:
        return run_demo(load_settings(), args.scale, args.seed)
    except WarehouseError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
