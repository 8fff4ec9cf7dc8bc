"""Dagster definitions: the nightly chain as assets, for teams that want an orchestrator with run
history, retries and lineage (``pip install '.[dagster]'``, then ``dagster dev -m warehouse.dagster_definitions``).

The assets drive the same code as ``crmwh nightly``: ``crmwh_lake`` lands the inbox (``ingest_paths``)
and checks source freshness; every dbt model, seed and snapshot is an asset and every dbt test an
asset check (dagster-dbt), built into a new DuckDB file beside the live one; ``crmwh_warehouse`` fits
the lifetime-value models, creates the cube views and pre-aggregations (``finish_warehouse``) and
publishes the new file with the same checkpoint + rename as the nightly. Each asset holds the nightly
lock while it works, so a ``crmwh nightly`` started by cron at the same time waits its turn instead of
racing. A run whose dbt tests fail stops before ``crmwh_warehouse``: the live warehouse stays as it was.
"""

import dataclasses
import json
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    AssetSpec,
    Definitions,
    MaterializeResult,
    ScheduleDefinition,
    asset,
    define_asset_job,
    multi_asset,
    multi_asset_check,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from warehouse.build import dbt_vars
from warehouse.config import Settings, load_settings
from warehouse.errors import WarehouseError
from warehouse.locking import RunLock

LAKE_PREFIX = "lake"
WAREHOUSE_ASSET = AssetKey("crmwh_warehouse")
DBT_GROUP = "dbt"
NIGHTLY_CRON = "0 2 * * *"


class DagsterDefinitionsError(WarehouseError):
    """The dbt project could not be parsed into Dagster assets."""


def building_path(settings: Settings, run_id: str) -> Path:
    """The new warehouse file of one Dagster run (never matched by the nightly's clean-up pattern)."""
    live = settings.warehouse_path
    return live.with_name(f"{live.name}.dagster-{run_id}")


def parse_manifest(settings: Settings) -> Path:
    """``dbt parse`` the project into ``<runs_dir>/dagster/target`` and return its manifest.json."""
    from dbt.cli.main import dbtRunner

    target = settings.runs_dir / "dagster" / "target"
    target.mkdir(parents=True, exist_ok=True)
    args = [
        "parse",
        "--project-dir", str(settings.root),
        "--profiles-dir", str(settings.root),
        "--target-path", str(target),
        "--log-path", str(target.parent / "logs"),
        "--vars", json.dumps(dbt_vars(settings)),
        "--quiet",
    ]  # fmt: skip
    outcome = dbtRunner().invoke(args)
    manifest = target / "manifest.json"
    if not outcome.success or not manifest.exists():
        raise DagsterDefinitionsError(
            f"dbt parse failed ({outcome.exception or 'see ' + str(target.parent / 'logs')}); "
            "fix the dbt project, then reload the Dagster definitions"
        )
    return manifest


def lake_key(source: str, object_name: str) -> AssetKey:
    """The asset of one landed object: ``lake/<source>/<object>`` (its Parquet folder in the lake)."""
    return AssetKey([LAKE_PREFIX, source, object_name])


class LakeSourcesTranslator(DagsterDbtTranslator):
    """A dbt source is a landed object of the lake, produced by the ``crmwh_lake`` asset."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return lake_key(dbt_resource_props["source_name"], dbt_resource_props["name"])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return DBT_GROUP


def build_definitions(settings: Settings | None = None) -> Definitions:
    """Assets, checks, the nightly job and its schedule for one configuration."""
    settings = settings or load_settings()
    manifest = parse_manifest(settings)

    sources = json.loads(manifest.read_text(encoding="utf-8"))["sources"].values()
    lake_keys = sorted((lake_key(src["source_name"], src["name"]) for src in sources), key=str)
    systems = sorted({key.path[1] for key in lake_keys})
    # Freshness is judged per source system; its check hangs on the system's first landed object.
    freshness_on = {system: next(k for k in lake_keys if k.path[1] == system) for system in systems}

    @multi_asset(
        name="crmwh_lake",
        group_name="ingest",
        specs=[AssetSpec(key, description="Landed as Parquet by crmwh ingest.") for key in lake_keys],
    )
    def crmwh_lake(context: AssetExecutionContext) -> Iterator[MaterializeResult]:
        from ingest.run import ingest_paths
        from warehouse.nightly import recover

        inbox = settings.inbox_dir
        if not inbox.is_dir():
            raise DagsterDefinitionsError(f"the inbox {inbox} does not exist (set paths.inbox_dir)")
        with RunLock(settings.runs_dir, context.run.run_id):
            removed = recover(settings) + _remove_old_building_files(settings, context.run.run_id)
            report = ingest_paths(settings, [inbox])
        context.log.info(f"ingest: {report.to_dict()['totals']}; removed leftovers: {len(removed)}")
        for key in lake_keys:
            files = [f for f in report.files if (f.source, f.object) == (key.path[1], key.path[2])]
            yield MaterializeResult(
                asset_key=key,
                metadata={
                    "files": len(files),
                    "rows_read": sum(f.rows_read for f in files),
                    "rows_landed": sum(f.rows_landed for f in files),
                    "rows_rejected": sum(f.rows_rejected for f in files),
                },
            )

    @multi_asset_check(
        specs=[
            AssetCheckSpec(
                "source_freshness", asset=key, description=f"Hours since {system} last delivered an extract."
            )
            for system, key in freshness_on.items()
        ]
    )
    def source_freshness_checks() -> Iterator[AssetCheckResult]:
        from warehouse.nightly import nightly_config, source_freshness

        config = nightly_config(settings)
        results = {r["source"]: r for r in source_freshness(settings, config)}
        for system, key in freshness_on.items():
            result = results.get(system, {"status": "error", "message": f"{system}: no freshness rule"})
            yield AssetCheckResult(
                asset_key=key,
                check_name="source_freshness",
                passed=result["status"] == "pass",
                severity=AssetCheckSeverity.ERROR
                if result["status"] == "error" and config.freshness_error_fails
                else AssetCheckSeverity.WARN,
                metadata={"message": result["message"]},
            )

    @dbt_assets(manifest=manifest, dagster_dbt_translator=LakeSourcesTranslator())
    def crmwh_dbt(context: AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
        building = building_path(settings, context.run.run_id)
        with RunLock(settings.runs_dir, context.run.run_id):
            live = settings.warehouse_path
            live.parent.mkdir(parents=True, exist_ok=True)
            if live.exists() and not building.exists():
                shutil.copyfile(live, building)
            # dbt runs as a subprocess with this process's environment: the profile reads the file to
            # build from here, and its logs go beside the run's artefacts rather than into the project.
            os.environ["CRMWH_WAREHOUSE_PATH"] = building.as_posix()
            os.environ["DBT_LOG_PATH"] = (settings.runs_dir / "dagster" / "logs").as_posix()
            args = ["build", "--vars", json.dumps(dbt_vars(settings))]
            target = settings.runs_dir / "dagster" / context.run.run_id
            yield from dbt.cli(args, context=context, target_path=target).stream()

    @asset(
        key=WAREHOUSE_ASSET,
        group_name="publish",
        deps=[crmwh_dbt],
        description="The live DuckDB warehouse: lifetime-value fit, cube views, pre-aggregations, atomic swap.",
    )
    def crmwh_warehouse(context: AssetExecutionContext) -> MaterializeResult:
        from warehouse.nightly import publish_built_file
        from warehouse.postbuild import finish_warehouse

        building = building_path(settings, context.run.run_id)
        if not building.exists():
            raise DagsterDefinitionsError(
                f"{building} does not exist: materialise the dbt assets in the same run first"
            )
        building_settings = dataclasses.replace(
            settings, paths=dataclasses.replace(settings.paths, warehouse_path=building)
        )
        with RunLock(settings.runs_dir, context.run.run_id):
            timings = finish_warehouse(building, building_settings)
            mart_rows = publish_built_file(settings, building, context.run.run_id)
        return MaterializeResult(
            metadata={
                "live_path": str(settings.warehouse_path),
                "mart_rows": sum(mart_rows.values()),
                "cube_seconds": timings.get("cube_seconds"),
            }
        )

    nightly_job = define_asset_job(
        "crmwh_nightly",
        selection=AssetSelection.all(),
        description="The nightly chain: ingest, dbt build with tests, lifetime value and cubes, publish.",
    )
    return Definitions(
        assets=[crmwh_lake, crmwh_dbt, crmwh_warehouse],
        asset_checks=[source_freshness_checks],
        jobs=[nightly_job],
        schedules=[ScheduleDefinition(job=nightly_job, cron_schedule=NIGHTLY_CRON)],
        resources={
            "dbt": DbtCliResource(
                project_dir=str(settings.root),
                profiles_dir=str(settings.root),
                target="duckdb",
                # The dbt installed beside this Python, whatever PATH the Dagster daemon was started with.
                dbt_executable=str(Path(sys.executable).with_name("dbt")),
            )
        },
    )


def _remove_old_building_files(settings: Settings, run_id: str) -> list[str]:
    """Files of earlier Dagster runs that failed before publishing (this run's own file stays)."""
    live = settings.warehouse_path
    if not live.parent.is_dir():
        return []
    removed = []
    for path in live.parent.glob(f"{live.name}.dagster-*"):
        if run_id not in path.name:
            path.unlink(missing_ok=True)
            removed.append(str(path))
    return removed


def __getattr__(name: str) -> Any:
    # `dagster dev -m warehouse.dagster_definitions` looks for a module-level `defs`; build it on first
    # access so importing this module (tests, docs) does not parse the dbt project.
    if name == "defs":
        definitions = build_definitions()
        globals()["defs"] = definitions
        return definitions
    raise AttributeError(name)
