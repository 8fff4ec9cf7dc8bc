"""The optional Dagster definitions (``pip install '.[dagster]'``), materialised once in-process on a
tiny generated company: every dbt model/seed/snapshot is an asset, every dbt test an asset check, and
the run ends with the same published warehouse a ``crmwh nightly`` would leave."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

pytest.importorskip("dagster")
pytest.importorskip("dagster_dbt")

from dagster import DagsterInstance

from warehouse.config import load_settings
from warehouse.dagster_definitions import (
    LAKE_PREFIX,
    WAREHOUSE_ASSET,
    build_definitions,
    building_path,
    lake_key,
)
from warehouse.generate import generate_extracts

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dagster")]

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def settings_under(base: Path) -> Any:
    return load_settings(
        PROJECT_ROOT / "crmwh.toml",
        env={
            "CRMWH_PATHS__INBOX_DIR": str(base / "inbox"),
            "CRMWH_PATHS__LAKE_DIR": str(base / "lake"),
            "CRMWH_PATHS__WAREHOUSE_PATH": str(base / "wh.duckdb"),
            "CRMWH_PATHS__RUNS_DIR": str(base / "runs"),
            "CRMWH_PRIVACY__SALT_PATH": str(base / "privacy" / "salt"),
            "CRMWH_PRIVACY__TOMBSTONES_PATH": str(base / "privacy" / "tombstones.jsonl"),
            "CRMWH_PRIVACY__AUDIT_LOG_PATH": str(base / "audit" / "audit.jsonl"),
            "CRMWH_BACKUPS__BACKUPS_DIR": str(base / "backups"),
        },
    )


@pytest.fixture(scope="module")
def materialised(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("dagster")
    generate_extracts(base / "inbox", scale="tiny", seed=11, as_of=date(2026, 11, 15), full=True)
    settings = settings_under(base)
    defs = build_definitions(settings)
    job = defs.resolve_job_def("crmwh_nightly")
    result = job.execute_in_process(instance=DagsterInstance.ephemeral(), raise_on_error=False)
    manifest = json.loads((settings.runs_dir / "dagster" / "target" / "manifest.json").read_text())
    return {"base": base, "settings": settings, "defs": defs, "result": result, "manifest": manifest}


def test_the_job_succeeds_and_publishes_the_warehouse(materialised: dict[str, Any]) -> None:
    result, settings = materialised["result"], materialised["settings"]
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    live = settings.warehouse_path
    assert live.exists()
    assert not building_path(settings, result.run_id).exists()
    with duckdb.connect(str(live), read_only=True) as con:
        customers = con.execute("select count(distinct customer_key) from marts.dim_customer").fetchone()[0]
        interactions = con.execute("select count(*) from marts.fct_interactions").fetchone()[0]
        views = con.execute("select count(*) from duckdb_views() where schema_name = 'cubes'").fetchone()[0]
        landed = con.execute("select count(*) from staging.stg_billing__orders").fetchone()[0]
    assert customers > 100
    assert interactions > 1000
    assert views >= 4
    # The lake asset landed the same orders the warehouse holds (the generator's billing extract).
    lake_orders = duckdb.execute(
        f"select count(*) from read_parquet('{settings.lake_dir.as_posix()}/billing/order/*.parquet')"
    ).fetchone()[0]
    assert landed > 0 and landed <= lake_orders


def test_every_dbt_node_is_an_asset_and_every_test_a_check(materialised: dict[str, Any]) -> None:
    result, manifest = materialised["result"], materialised["manifest"]
    expected = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed", "snapshot")
    }
    lake = {lake_key(s["source_name"], s["name"]) for s in manifest["sources"].values()}
    materialised_keys = {event.asset_key for event in result.get_asset_materialization_events()}
    dbt_keys = {k for k in materialised_keys if k.path[0] != LAKE_PREFIX and k != WAREHOUSE_ASSET}
    assert {key.path[-1] for key in dbt_keys} == expected
    assert lake <= materialised_keys and len(lake) >= 19
    assert WAREHOUSE_ASSET in materialised_keys

    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    evaluations = result.get_asset_check_evaluations()
    freshness = [e for e in evaluations if e.check_name == "source_freshness"]
    dbt_checks = [e for e in evaluations if e.check_name != "source_freshness"]
    # One per source system; the generated extracts are as of 2026-11-15, so they are not fresh today.
    assert {e.asset_key.path[1] for e in freshness} == {"billing", "contact_center", "hubspot", "salesforce"}
    # dagster-dbt turns each test attached to exactly one model into a check on that model.
    single_parent = [
        t for t in tests if len([d for d in t["depends_on"]["nodes"] if d.startswith("model.")]) == 1
    ]
    assert len(dbt_checks) >= len(single_parent) > 20
    assert all(e.passed for e in dbt_checks), [e.check_name for e in dbt_checks if not e.passed]


def test_the_warehouse_depends_on_every_mart(materialised: dict[str, Any]) -> None:
    defs = materialised["defs"]
    graph = defs.resolve_asset_graph()
    upstream = graph.get(WAREHOUSE_ASSET).parent_keys
    marts = {key.path[-1] for key in upstream}
    assert {"fct_interactions", "dim_customer", "fct_orders", "fct_customer_months"} <= marts
    lake_children = {key.path[-1] for key in graph.get(lake_key("billing", "order")).child_keys}
    assert "stg_billing__orders" in lake_children
