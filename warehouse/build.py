"""`crmwh build`: run the dbt project (seeds, snapshots, models, tests) against the warehouse.

dbt runs in-process through ``dbtRunner``; every setting the models depend on is passed as a dbt
var, so ``crmwh.toml`` (and its ``CRMWH_*`` overrides) is the one place a run is configured.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from warehouse.config import Settings, load_settings
from warehouse.errors import WarehouseError

SUPPORTED_TARGETS = ("duckdb", "spark")
LAKE_OBJECTS = {
    "salesforce": (
        "user",
        "account",
        "contact",
        "lead",
        "opportunity",
        "opportunity_history",
        "task",
        "event",
        "case",
    ),
    "hubspot": (
        "owner",
        "company",
        "contact",
        "deal",
        "deal_stage",
        "engagement",
        "ticket",
        "contact_merge_audit",
    ),
    "billing": ("order",),
    "contact_center": ("message",),
}


class BuildError(WarehouseError):
    """The warehouse cannot be built as asked (missing lake, unknown target, dbt failure to start)."""


@dataclass
class BuildResult:
    """What a build did: per resource kind, how many nodes ended in each status."""

    status: str
    elapsed_seconds: float
    models: Counter[str] = field(default_factory=Counter)
    tests: Counter[str] = field(default_factory=Counter)
    seeds: Counter[str] = field(default_factory=Counter)
    snapshots: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    run_results_path: Path | None = None
    manifest_path: Path | None = None
    warehouse_path: Path | None = None

    @property
    def ok(self) -> bool:
        return self.status == "success"

    @property
    def models_passed(self) -> int:
        return self.models["success"]

    @property
    def models_errored(self) -> int:
        return self.models["error"] + self.models["skipped"]

    @property
    def tests_passed(self) -> int:
        return self.tests["pass"]

    @property
    def tests_warned(self) -> int:
        return self.tests["warn"]

    @property
    def tests_failed(self) -> int:
        return self.tests["fail"]

    @property
    def tests_errored(self) -> int:
        return self.tests["error"] + self.tests["skipped"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "elapsed_seconds": round(self.elapsed_seconds, 2),
            "models": dict(self.models),
            "tests": dict(self.tests),
            "seeds": dict(self.seeds),
            "snapshots": dict(self.snapshots),
            "failures": self.failures,
            "run_results_path": str(self.run_results_path) if self.run_results_path else None,
            "manifest_path": str(self.manifest_path) if self.manifest_path else None,
            "warehouse_path": str(self.warehouse_path) if self.warehouse_path else None,
        }

    def render(self) -> str:
        lines = [
            f"build {self.status} in {self.elapsed_seconds:.1f}s -> {self.warehouse_path}",
            f"  models:    {self.models_passed} ok, {self.models_errored} failed or skipped",
            f"  tests:     {self.tests_passed} passed, {self.tests_warned} warned, "
            f"{self.tests_failed} failed, {self.tests_errored} errored",
            f"  seeds:     {self.seeds['success']} ok; snapshots: {self.snapshots['success']} ok",
        ]
        lines += [f"  ! {failure}" for failure in self.failures[:20]]
        if len(self.failures) > 20:
            lines.append(f"  ! ... and {len(self.failures) - 20} more (see {self.run_results_path})")
        return "\n".join(lines)


def dbt_vars(settings: Settings, as_of: date | None = None) -> dict[str, Any]:
    """The dbt vars of a run, from the settings."""
    hours = settings.business_hours
    return {
        "lake_dir": settings.lake_dir.as_posix(),
        "reporting_currency": settings.reporting.currency,
        "fiscal_year_start_month": settings.reporting.fiscal_year_start_month,
        "business_timezone": hours.timezone,
        "business_start": hours.start,
        "business_end": hours.end,
        "business_weekdays": list(hours.weekdays),
        "holiday_country": hours.country_holidays,
        "sla_default_first_response_seconds": settings.sla.default_first_response_seconds,
        "sla_first_response_seconds": dict(settings.sla.first_response_seconds),
        "as_of_date": as_of.isoformat() if as_of else None,
    }


def _check_lake(lake_dir: Path) -> None:
    missing = [
        f"{source}/{obj}"
        for source, objects in LAKE_OBJECTS.items()
        for obj in objects
        if not any((lake_dir / source / obj).glob("*.parquet"))
    ]
    if missing:
        shown = ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else "")
        raise BuildError(
            f"the lake at {lake_dir} has no Parquet files for {len(missing)} object(s) ({shown}); "
            "run `crmwh ingest` first, or point paths.lake_dir at an ingested lake"
        )


def spark_dir(settings: Settings) -> Path:
    """Where a local Spark build keeps its warehouse tables and Derby metastore."""
    return settings.runs_dir / "spark"


def _release_warehouse() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in-process after a run, so the caller (cubes,
    tests, the next build) can open the warehouse file with its own configuration."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        environment = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
    if environment is not None:
        environment.close()


def build(
    settings: Settings,
    *,
    full_refresh: bool = False,
    as_of: date | None = None,
    select: list[str] | None = None,
    target: str = "duckdb",
    with_tests: bool = True,
) -> BuildResult:
    """Run ``dbt build`` over the project at the settings' root and summarise the outcome.

    ``with_tests=False`` builds the nodes without running the data and unit tests (a parity check
    that compares the results itself does not need them twice)."""
    from dbt.cli.main import dbtRunner

    if target not in SUPPORTED_TARGETS:
        raise BuildError(f"unknown build target {target!r}; supported: {', '.join(SUPPORTED_TARGETS)}")
    project_dir = settings.root
    if not (project_dir / "dbt_project.yml").exists():
        raise BuildError(f"{project_dir}: no dbt_project.yml (is paths/root pointing at the crmwh project?)")
    _check_lake(settings.lake_dir)
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    dbt_dir = settings.runs_dir / "dbt"
    dbt_dir.mkdir(parents=True, exist_ok=True)
    target_path = dbt_dir / "target"

    os.environ["CRMWH_WAREHOUSE_PATH"] = settings.warehouse_path.as_posix()
    if target == "spark":
        # Spark keeps its tables and metastore under the runs directory, never in the working directory.
        os.environ["CRMWH_SPARK_DIR"] = spark_dir(settings).as_posix()
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    args = [
        "build",
        "--project-dir", str(project_dir),
        "--profiles-dir", str(project_dir),
        "--target", target,
        "--target-path", str(target_path),
        "--log-path", str(dbt_dir / "logs"),
        "--vars", json.dumps(dbt_vars(settings, as_of)),
        "--quiet",
    ]  # fmt: skip
    if full_refresh:
        args.append("--full-refresh")
    if not with_tests:
        args += ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
    for selector in select or []:
        args += ["--select", selector]

    started = time.perf_counter()
    try:
        outcome = dbtRunner().invoke(args)
    finally:
        if target == "duckdb":
            _release_warehouse()
    elapsed = time.perf_counter() - started
    if outcome.exception is not None:
        raise BuildError(f"dbt could not run: {outcome.exception}")

    result = BuildResult(
        status="success" if outcome.success else "failed",
        elapsed_seconds=elapsed,
        run_results_path=target_path / "run_results.json",
        manifest_path=target_path / "manifest.json",
        warehouse_path=settings.warehouse_path if target == "duckdb" else spark_dir(settings) / "warehouse",
    )
    buckets = {"model": result.models, "test": result.tests, "unit_test": result.tests, "seed": result.seeds}
    buckets["snapshot"] = result.snapshots
    for node_result in getattr(outcome.result, "results", None) or []:
        kind = str(node_result.node.resource_type)
        status = str(node_result.status)
        bucket = buckets.get(kind)
        if bucket is not None:
            bucket[status] += 1
        if status in {"error", "fail"}:
            message = (node_result.message or "").strip().splitlines()
            result.failures.append(f"{kind} {node_result.node.name}: {message[0] if message else status}")
    return result


def register(app: typer.Typer) -> None:
    """Add `crmwh build` to the CLI."""

    @app.command("build")
    def build_command(
        full_refresh: Annotated[
            bool, typer.Option("--full-refresh", help="Rebuild incremental models from scratch.")
        ] = False,
        as_of: Annotated[
            str | None, typer.Option("--as-of", help="Last month of fct_customer_months (YYYY-MM-DD).")
        ] = None,
        select: Annotated[
            list[str] | None, typer.Option("--select", "-s", help="dbt node selection (repeatable).")
        ] = None,
        target: Annotated[str, typer.Option("--target", help="dbt target (profile output).")] = "duckdb",
        as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
        config: Annotated[Path | None, typer.Option("--config", help="Configuration file.")] = None,
    ) -> None:
        """Build the star schema with dbt: seeds, staging, identity resolution, marts and their tests.

        Exit status: 0 built and all tests passed (warnings allowed), 1 a model or test failed, 2 error.
        """
        try:
            as_of_day = date.fromisoformat(as_of) if as_of else None
        except ValueError:
            raise BuildError(f"--as-of expects a date as YYYY-MM-DD, got {as_of!r}") from None
        settings = load_settings(config)
        from warehouse.audit import audited

        built = settings.warehouse_path.name if target == "duckdb" else target
        with audited(settings, "build", built) as audit:
            result = build(settings, full_refresh=full_refresh, as_of=as_of_day, select=select, target=target)
            finished: dict[str, Any] = {}
            if result.ok and not select and target == "duckdb":
                from warehouse.postbuild import finish_warehouse

                finished = finish_warehouse(settings.warehouse_path, settings, as_of_day)
            audit.outcome = "ok" if result.ok else "error"
            audit.details.update(
                full_refresh=full_refresh, select=select or None, models=dict(result.models),
                tests=dict(result.tests), failures=len(result.failures),
            )  # fmt: skip
        if as_json:
            typer.echo(json.dumps({**result.to_dict(), "post_build": finished}, indent=2, default=str))
        else:
            typer.echo(result.render())
            if finished:
                typer.echo(
                    f"lifetime value refitted in {finished['lifetime_value_seconds']} s; "
                    f"{len(finished['views'])} cube views, {len(finished['preaggregations'])} pre-aggregations "
                    f"in {finished['cube_seconds']} s"
                )
        raise typer.Exit(0 if result.ok else 1)
