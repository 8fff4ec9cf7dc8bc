"""Fixtures of the ingest tests: a settings object pointing at a temporary inbox and lake."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from warehouse.config import PathsConfig, Settings

CASES = Path(__file__).resolve().parents[1] / "cases" / "ingest"
SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"


def make_settings(root: Path) -> Settings:
    return Settings(
        root=root,
        paths=PathsConfig(
            inbox_dir=root / "inbox",
            lake_dir=root / "lake",
            warehouse_path=root / "wh.duckdb",
            runs_dir=root / "runs",
        ),
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "inbox").mkdir()
    return make_settings(tmp_path)


@pytest.fixture
def case_inbox(settings: Settings) -> Path:
    """A writable copy of the hand-made inbox under tests/cases/ingest/inbox."""
    shutil.copytree(CASES / "inbox", settings.inbox_dir, dirs_exist_ok=True)
    return settings.inbox_dir


def rows(path_glob: Path | str, order_by: str = "_row_number") -> list[dict]:
    """Every row of the Parquet files matching ``path_glob`` as dicts."""
    con = duckdb.connect()
    rel = con.execute(f"SELECT * FROM read_parquet('{path_glob}', union_by_name=true) ORDER BY {order_by}")
    names = [d[0] for d in rel.description]
    return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]
