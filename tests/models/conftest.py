"""Fixtures: a warehouse built once per test session from the hand-made tiny lake."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.models.lake import write_lake
from tests.models.tiny_lake import tiny_rows
from warehouse.build import BuildResult, build
from warehouse.config import PROJECT_ROOT, Settings, load_settings


def settings_for(base: Path, lake_dir: Path | None = None) -> Settings:
    """Settings of the shipped crmwh.toml with every path under ``base`` (the lake too, unless given)."""
    env = {
        "CRMWH_PATHS__LAKE_DIR": str(lake_dir or base / "lake"),
        "CRMWH_PATHS__WAREHOUSE_PATH": str(base / "crmwh.duckdb"),
        "CRMWH_PATHS__RUNS_DIR": str(base / "runs"),
        "CRMWH_PATHS__INBOX_DIR": str(base / "inbox"),
    }
    return load_settings(PROJECT_ROOT / "crmwh.toml", env=env)


@dataclass
class BuiltWarehouse:
    settings: Settings
    result: BuildResult

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.settings.warehouse_path), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        return self.query(sql, params)[0][0]


@pytest.fixture(scope="session")
def tiny_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltWarehouse]:
    base = tmp_path_factory.mktemp("tiny")
    settings = settings_for(base)
    write_lake(settings.lake_dir, tiny_rows())
    result = build(settings, full_refresh=True)
    yield BuiltWarehouse(settings, result)


@pytest.fixture
def key_of(tiny_warehouse: BuiltWarehouse) -> Callable[[str], str]:
    """customer_key of a source record, from the crosswalk."""

    def lookup(record_key: str) -> str:
        return tiny_warehouse.scalar(
            "select customer_key from marts.customer_crosswalk where record_key = ?", [record_key]
        )

    return lookup
