"""Parity: the star schema built on Spark equals the one built on DuckDB from the same tiny lake,
mart by mart and value by value, and cube queries compiled to Spark SQL answer the same."""

from __future__ import annotations

import json
import math
from datetime import datetime
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from cubes.engine import run_query, run_query_spark
from cubes.query import Filter, Query
from tests.spark.conftest import ParityBuilds

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]

FLOAT_RELATIVE_TOLERANCE = 1e-9

# Every mart dbt builds, by its key (dim_customer holds one version per customer after one build).
MART_KEYS: dict[str, tuple[str, ...]] = {
    "customer_crosswalk": ("record_key",),
    "identity_match_quality": ("measure", "subject", "rule_name"),
    "dim_date": ("date_day",),
    "dim_customer": ("customer_key",),
    "dim_channel": ("channel_key",),
    "dim_owner": ("owner_key",),
    "dim_campaign": ("campaign_key",),
    "fct_interactions": ("interaction_id",),
    "fct_cases": ("case_id",),
    "fct_opportunities": ("opportunity_id",),
    "fct_opportunity_stage_changes": ("stage_change_id",),
    "fct_leads": ("lead_id",),
    "fct_orders": ("order_id",),
    "fct_customer_months": ("customer_key", "month_start_date"),
}

# Values fixed by the run, not by the data: a snapshot's version key hashes the snapshot time.
RUN_TIME_COLUMNS = {"dim_customer": {"customer_version_key"}}

CUBE_QUERIES = [
    Query("pipeline", ("leads", "converted_leads", "opportunities_created", "won", "won_amount")),
    Query("pipeline", ("won", "lost", "win_rate", "win_rate_amount"), rows=("owner.owner",), totals=True),
    Query(
        "pipeline", ("stage_entries", "stage_conversion_rate", "median_days_in_stage"), rows=("funnel.step",)
    ),
    Query("pipeline", ("leads", "opportunities_created", "won_amount"), rows=("campaign.lead_source",)),
    Query("retention", ("customers_active",), rows=("date.quarter",), totals=True),
    Query(
        "retention", ("retention_rate",), rows=("cohort.month",), columns=("age.months_since_acquisition",)
    ),
    Query(
        "service", ("interactions",), rows=("channel.channel",), filters=(Filter("date.year", "eq", (2024,)),)
    ),
]


def _duckdb_table(builds: ParityBuilds, mart: str) -> pa.Table:
    con = duckdb.connect(str(builds.settings.warehouse_path), read_only=True)
    try:
        return con.execute(f"select * from marts.{mart}").to_arrow_table()
    finally:
        con.close()


def _spark_table(builds: ParityBuilds, mart: str) -> pa.Table:
    table = builds.spark.sql(f"select * from marts.{mart}").toArrow()
    fields = [
        pa.field(f.name, pa.timestamp(f.type.unit)) if pa.types.is_timestamp(f.type) and f.type.tz else f
        for f in table.schema
    ]
    return table.cast(pa.schema(fields))


def _by_key(table: pa.Table, key: tuple[str, ...]) -> dict[tuple[Any, ...], dict[str, Any]]:
    rows = table.to_pylist()
    keyed = {tuple(row[k] for k in key): row for row in rows}
    assert len(keyed) == len(rows), f"key {key} is not unique"
    return keyed


def _same_value(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, float) or isinstance(right, float):
        return math.isclose(float(left), float(right), rel_tol=FLOAT_RELATIVE_TOLERANCE, abs_tol=1e-12)
    if isinstance(left, Decimal) or isinstance(right, Decimal):
        return Decimal(left) == Decimal(right)
    return left == right


def _differences(left: dict[str, Any], right: dict[str, Any], skip: set[str]) -> list[str]:
    return [
        f"{column}: duckdb={left[column]!r} spark={right[column]!r}"
        for column in left
        if column not in skip and not _same_value(left[column], right[column])
    ]


def test_both_builds_succeed(parity_builds: ParityBuilds) -> None:
    assert parity_builds.duckdb_result.ok, parity_builds.duckdb_result.failures
    assert parity_builds.spark_result.ok, parity_builds.spark_result.failures
    assert parity_builds.spark_result.models_passed == parity_builds.duckdb_result.models_passed


@pytest.mark.parametrize("mart", sorted(MART_KEYS))
def test_mart_is_identical_on_spark(parity_builds: ParityBuilds, mart: str) -> None:
    on_duckdb = _duckdb_table(parity_builds, mart)
    on_spark = _spark_table(parity_builds, mart)
    assert on_spark.column_names == on_duckdb.column_names
    assert on_spark.num_rows == on_duckdb.num_rows
    assert on_duckdb.num_rows > 0

    key = MART_KEYS[mart]
    duckdb_rows = _by_key(on_duckdb, key)
    spark_rows = _by_key(on_spark, key)
    assert spark_rows.keys() == duckdb_rows.keys()

    skip = RUN_TIME_COLUMNS.get(mart, set())
    mismatches = {
        k: diff
        for k, row in duckdb_rows.items()
        if (
            diff := _differences(
                row, spark_rows[k], skip | _run_time_stamps(parity_builds, row, spark_rows[k])
            )
        )
    }
    assert not mismatches, dict(list(mismatches.items())[:5])


def _run_time_stamps(builds: ParityBuilds, left: dict[str, Any], right: dict[str, Any]) -> set[str]:
    """Timestamp columns holding the build time on both sides (e.g. a customer's first version with no
    earlier sighting is valid from its snapshot): equal in kind, not in value."""
    return {
        column
        for column, value in left.items()
        if isinstance(value, datetime)
        and isinstance(right[column], datetime)
        and value >= builds.started_at
        and right[column] >= builds.started_at
    }


@pytest.mark.parametrize("query", CUBE_QUERIES, ids=lambda q: f"{q.cube}:{'+'.join(q.measures)}")
def test_cube_query_answers_the_same_on_spark(parity_builds: ParityBuilds, query: Query) -> None:
    on_duckdb = run_query(parity_builds.settings.warehouse_path, query, use_preaggregations=False)
    on_spark = run_query_spark(parity_builds.spark, query)
    assert on_spark.column_names == on_duckdb.column_names
    duckdb_rows = on_duckdb.to_pylist()
    spark_rows = on_spark.to_pylist()
    assert len(spark_rows) == len(duckdb_rows) > 0

    def ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(rows, key=lambda row: [(value is None, str(value)) for value in row.values()])

    for left, right in zip(ordered(duckdb_rows), ordered(spark_rows), strict=True):
        assert not _differences(left, right, set()), (left, right)


def test_query_command_runs_on_the_spark_build(
    parity_builds: ParityBuilds, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from warehouse.cli import app

    monkeypatch.setenv("CRMWH_PATHS__RUNS_DIR", str(parity_builds.settings.runs_dir))
    query = Query("pipeline", ("leads", "won_amount"), rows=("campaign.lead_source",))
    expected = {
        row["campaign.lead_source"]: row["leads"]
        for row in run_query(
            parity_builds.settings.warehouse_path, query, use_preaggregations=False
        ).to_pylist()
    }
    arguments = ["query", "pipeline", "-m", "leads", "-m", "won_amount", "-r", "campaign.lead_source"]
    outcome = CliRunner().invoke(app, [*arguments, "--target", "spark", "--format", "json"])
    assert outcome.exit_code == 0, outcome.output
    rows = json.loads(outcome.output[outcome.output.index("[") :])
    assert {row["campaign.lead_source"]: row["leads"] for row in rows} == expected
