from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

CASES = Path(__file__).resolve().parent.parent / "cases" / "cubes"


def build_warehouse(path: Path) -> Path:
    con = duckdb.connect(str(path))
    con.execute((CASES / "warehouse.sql").read_text(encoding="utf-8"))
    con.close()
    return path


@pytest.fixture(scope="session")
def warehouse_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("cubes") / "wh.duckdb")


@pytest.fixture()
def con(warehouse_file: Path):
    connection = duckdb.connect(str(warehouse_file), read_only=True)
    yield connection
    connection.close()


def rows(con: duckdb.DuckDBPyConnection, table: str) -> list[dict]:
    """Plain rows of a mart table, for the independent Python computations."""
    cursor = con.execute(f"select * from marts.{table}")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
