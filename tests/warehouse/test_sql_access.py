"""Analysts' read-only SQL access to the DuckDB warehouse: read-only connections beside a nightly that
publishes a new file by rename, and SQLAlchemy through duckdb-engine (the driver Superset uses)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa

CASES = Path(__file__).resolve().parents[1] / "cases" / "cubes" / "warehouse.sql"


def make_warehouse(path: Path, extra_leads: int = 0) -> Path:
    from cubes.views import create_views

    with duckdb.connect(str(path)) as con:
        con.execute(CASES.read_text(encoding="utf-8"))
        for n in range(extra_leads):
            con.execute(
                "insert into marts.fct_leads select ?, source_system, customer_key, owner_key, campaign_key, "
                "created_at, created_date, false, null, null, null, false, 'open' from marts.fct_leads limit 1",
                [f"extra:{n}"],
            )
        create_views(con)
        con.execute("checkpoint")
    return path


def leads(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("select count(*) from marts.fct_leads").fetchone()[0]


def test_a_reader_keeps_its_file_when_the_nightly_renames_a_new_one_over_it(tmp_path: Path) -> None:
    live = make_warehouse(tmp_path / "crmwh.duckdb")
    reader = duckdb.connect(str(live), read_only=True)
    try:
        assert leads(reader) == 7
        # Another process reads the same file read-only at the same time (DuckDB allows many readers).
        other = subprocess.run(
            [sys.executable, "-c",
             "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
             "print(c.execute('select count(*) from cubes.pipeline').fetchone()[0])", str(live)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert other.stdout.strip() == "28"  # 7 leads + 7 opportunities + 14 stage changes
        # The nightly builds beside the live file and publishes by rename: nobody waits for anybody.
        fresh = make_warehouse(tmp_path / "crmwh.duckdb.new", extra_leads=3)
        os.replace(fresh, live)
        assert leads(reader) == 7
        assert reader.execute("select count(*) from cubes.pipeline where fact = 'leads'").fetchone()[0] == 7
        newcomer = subprocess.run(
            [sys.executable, "-c",
             "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
             "print(c.execute('select count(*) from marts.fct_leads').fetchone()[0])", str(live)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert newcomer.stdout.strip() == "10"
        # Inside one process DuckDB shares the open database between connections to the same path, so a
        # long-running tool sees the new build once it has closed every connection to the old one.
        with duckdb.connect(str(live), read_only=True) as same_process:
            assert leads(same_process) == 7
    finally:
        reader.close()
    with duckdb.connect(str(live), read_only=True) as reopened:
        assert leads(reopened) == 10


def test_read_only_connections_cannot_write(tmp_path: Path) -> None:
    live = make_warehouse(tmp_path / "crmwh.duckdb")
    with duckdb.connect(str(live), read_only=True) as con:
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("delete from marts.fct_leads")
        assert leads(con) == 7


@pytest.fixture()
def engine(tmp_path: Path):
    path = make_warehouse(tmp_path / "crmwh.duckdb")
    engine = sa.create_engine(f"duckdb:///{path}", connect_args={"read_only": True})
    yield engine
    engine.dispose()


def test_sqlalchemy_duckdb_engine_lists_schemas_tables_and_columns(engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    # duckdb-engine names schemas <database>.<schema>, the database being the file's stem (as Superset shows).
    schemas = set(inspector.get_schema_names())
    assert {"crmwh.marts", "crmwh.cubes"} <= schemas
    tables = set(inspector.get_table_names(schema="crmwh.marts"))
    assert {
        "dim_customer",
        "dim_date",
        "fct_cases",
        "fct_interactions",
        "fct_leads",
        "fct_opportunities",
    } <= tables
    assert set(inspector.get_view_names(schema="crmwh.cubes")) == {
        "customer_value",
        "pipeline",
        "retention",
        "service",
    }
    columns = {
        c["name"]: str(c["type"]) for c in inspector.get_columns("fct_opportunities", schema="crmwh.marts")
    }
    assert columns["amount_reporting"].startswith(("DECIMAL", "NUMERIC"))
    assert columns["is_won"] == "BOOLEAN"
    view_columns = [c["name"] for c in inspector.get_columns("pipeline", schema="crmwh.cubes")]
    assert view_columns[0] == "fact" and "won_amount" in view_columns and "owner_team" in view_columns


def test_sqlalchemy_queries_marts_and_cube_views(engine: sa.Engine) -> None:
    with engine.connect() as con:
        # tests/cases/cubes/warehouse.sql: won 1000 + 100 + 3000, lost 9000 + 100.
        won, lost = con.execute(
            sa.text(
                "select sum(won_amount), sum(lost_amount) from cubes.pipeline where fact = 'opportunities'"
            )
        ).one()
        assert (float(won), float(lost)) == (4100.0, 9100.0)
        by_region = dict(
            con.execute(
                sa.text(
                    "select c.region, count(*) from marts.fct_cases f join marts.dim_customer c "
                    "on c.customer_key = f.customer_key and c.is_current group by 1"
                )
            ).all()
        )
        assert by_region == {"North America": 3, "EMEA": 2}
        # A parameterised query as Superset's SQL Lab sends it.
        count = con.execute(
            sa.text("select count(*) from cubes.service where fact = :fact"), {"fact": "interactions"}
        ).scalar_one()
        assert count == 11
        with pytest.raises(sa.exc.DBAPIError, match="read-only"):
            con.execute(sa.text("drop table marts.fct_cases"))
