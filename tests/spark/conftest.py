"""One Spark session for every Spark test: the tiny lake built once with DuckDB and once with Spark.

dbt-spark in session mode creates the process's SparkSession on its first connection and reuses it
afterwards, so the builds and the comparisons all run on one JVM. Every Spark test is in the xdist
group "spark" so that pytest-xdist keeps them on one worker."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.models.conftest import settings_for
from tests.models.lake import write_lake
from tests.models.tiny_lake import tiny_rows
from warehouse.build import BuildResult, build
from warehouse.config import Settings

pytest.importorskip(
    "pyspark", reason="the Spark target is an optional extra: pip install dbt-spark[session] pyspark"
)
pytest.importorskip("dbt.adapters.spark")


@dataclass
class ParityBuilds:
    """The same lake built on both engines, and the moment the builds started (run-time values such
    as a snapshot's valid_from of a customer never seen before are at or after it)."""

    settings: Settings
    started_at: datetime
    duckdb_result: BuildResult
    spark_result: BuildResult
    spark: Any


@pytest.fixture(scope="session")
def parity_builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParityBuilds]:
    from pyspark.sql import SparkSession

    base = tmp_path_factory.mktemp("parity")
    settings = settings_for(base)
    write_lake(settings.lake_dir, tiny_rows())
    started_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    duckdb_result = build(settings, full_refresh=True, target="duckdb", with_tests=False)
    spark_result = build(settings, full_refresh=True, target="spark", with_tests=False)
    yield ParityBuilds(settings, started_at, duckdb_result, spark_result, SparkSession.builder.getOrCreate())
