"""Seeds load on Spark with every character intact: dbt-spark's own seed loader doubles quotes,
which Spark SQL does not read as an escaped quote, so the project ships spark__load_csv_rows."""

from __future__ import annotations

import csv
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from warehouse.config import PROJECT_ROOT

pytest.importorskip(
    "pyspark", reason="the Spark target is an optional extra: pip install dbt-spark[session] pyspark"
)
pytest.importorskip("dbt.adapters.spark")

# One worker runs every Spark test, so they share one JVM and Spark session (see conftest.py).
pytestmark = pytest.mark.xdist_group("spark")

CASES = Path(__file__).parents[1] / "cases" / "spark"


def _expected_rows(seed_csv: Path) -> list[tuple[object, ...]]:
    """The seed as Spark must hold it, read with the csv module (empty field = null)."""
    with seed_csv.open(encoding="utf-8", newline="") as handle:
        return [
            (
                int(row["value_id"]),
                row["label"] or None,
                Decimal(row["amount"]) if row["amount"] else None,
                {"true": True, "false": False}.get(row["is_active"]),
            )
            for row in csv.DictReader(handle)
        ]


@pytest.mark.slow
def test_seed_values_with_quotes_backslashes_and_percent_signs_round_trip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dbt.cli.main import dbtRunner
    from pyspark.sql import SparkSession

    project = tmp_path / "project"
    shutil.copytree(CASES / "seed_project", project)
    (project / "macros").mkdir()
    for macro_file in ("spark_seeds.sql", "spark_contracts.sql"):
        shutil.copy(PROJECT_ROOT / "macros" / macro_file, project / "macros")
    monkeypatch.setenv("CRMWH_SPARK_DIR", str(tmp_path / "spark"))
    monkeypatch.setenv("CRMWH_SPARK_SCHEMA", "spark_seed_test")
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

    outcome = dbtRunner().invoke([
        "seed", "--project-dir", str(project), "--profiles-dir", str(PROJECT_ROOT), "--target", "spark",
        "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"), "--quiet",
        "--select", "quoted_values", "--full-refresh",
    ])  # fmt: skip
    assert outcome.exception is None, outcome.exception
    assert outcome.success, [result.message for result in outcome.result.results]

    spark = SparkSession.builder.getOrCreate()
    rows = spark.sql(
        "select cast(value_id as bigint), label, cast(amount as decimal(10, 2)), is_active "
        "from spark_seed_test.quoted_values order by value_id"
    ).collect()
    assert [tuple(row) for row in rows] == _expected_rows(
        CASES / "seed_project" / "seeds" / "quoted_values.csv"
    )
