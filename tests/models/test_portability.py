"""Every compiled model must transpile from DuckDB SQL to Spark SQL with sqlglot, so the project
can move engines: dialect specifics belong in dispatched macros, not in models."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import sqlglot
from sqlglot.errors import ErrorLevel, SqlglotError

from tests.models.conftest import settings_for
from warehouse.build import _release_warehouse, dbt_vars
from warehouse.config import PROJECT_ROOT


@pytest.fixture(scope="module")
def compiled_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from dbt.cli.main import dbtRunner

    base = tmp_path_factory.mktemp("compile")
    settings = settings_for(base)
    os.environ["CRMWH_WAREHOUSE_PATH"] = str(settings.warehouse_path)
    target = base / "target"
    try:
        outcome = dbtRunner().invoke([
            "compile", "--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT),
            "--target-path", str(target), "--log-path", str(base / "logs"), "--quiet",
            "--vars", json.dumps(dbt_vars(settings)), "--select", "resource_type:model",
        ])  # fmt: skip
    finally:
        _release_warehouse()
    assert outcome.success, outcome.exception
    compiled = target / "compiled" / "crmwh" / "models"
    return {
        str(path.relative_to(compiled)): path.read_text(encoding="utf-8") for path in compiled.rglob("*.sql")
    }


def test_every_layer_compiles(compiled_models: dict[str, str]) -> None:
    layers = {Path(name).parts[0] for name in compiled_models}
    assert layers == {"staging", "intermediate", "marts"}
    assert len(compiled_models) >= 45


# The lake reader is the one engine-specific relation by design (dispatched macro lake_source):
# DuckDB needs union_by_name for drifting files, Spark reads the directory as parquet.`<dir>`.
LAKE_READ = re.compile(r"read_parquet\(('[^']+'), union_by_name = true\)")


def test_compiled_models_transpile_to_spark(compiled_models: dict[str, str]) -> None:
    failures = {}
    for name, compiled_sql in sorted(compiled_models.items()):
        sql = LAKE_READ.sub(r"read_parquet(\1)", compiled_sql)
        try:
            spark = sqlglot.transpile(sql, read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE)
        except SqlglotError as exc:
            failures[name] = str(exc).splitlines()[0]
            continue
        if not spark or not spark[0].strip():
            failures[name] = "empty output"
    assert not failures, "\n".join(f"{name}: {error}" for name, error in failures.items())
