"""Incremental facts equal a full refresh over the same lake: build, land one more day, build
incrementally, then rebuild from scratch into a second warehouse and compare both ways."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from tests.models.conftest import settings_for
from tests.models.lake import write_lake
from tests.models.tiny_lake import tiny_rows
from warehouse.build import build

INCREMENTAL_FACTS = ("fct_interactions", "fct_orders", "fct_customer_months")


def next_day_rows() -> dict[tuple[str, str], list[dict[str, object]]]:
    return {
        ("contact_center", "message"): [
            {"message_id": "M8", "thread_id": "TH3", "channel": "sms", "direction": "inbound",
             "sent_at": "2024-05-03 13:00:00", "customer_email": "b2c@mail.com"},
            {"message_id": "M9", "thread_id": "TH3", "channel": "sms", "direction": "outbound",
             "sent_at": "2024-05-03 15:00:00", "agent_id": "AG1", "customer_email": "b2c@mail.com"},
        ],
        ("salesforce", "task"): [
            # deleted at the source since the first build: its interaction vanishes from the fact
            {"id": "T3", "who_id": "C2", "owner_id": "U2", "type": "Weird Thing", "status": "Completed",
             "created_date": "2024-03-05 12:00:00", "is_deleted": True},
        ],
        ("billing", "order"): [
            # a late correction of a March order, far outside any recent-date window
            {"order_id": "B1", "customer_id": "cust-1", "customer_email": "solo@gmail.com", "amount": 110,
             "cost": 60, "currency": "USD", "status": "completed", "order_date": "2024-03-10 12:00:00",
             "updated_at": "2024-05-03 08:00:00"},
            {"order_id": "B2", "customer_id": "cust-1", "customer_email": "solo@gmail.com", "amount": 55,
             "currency": "EUR", "status": "completed", "order_date": "2024-05-02 12:00:00",
             "updated_at": "2024-05-03 09:00:00"},
            {"order_id": "B6", "customer_id": "cust-2", "customer_email": "b2c@mail.com", "amount": 20,
             "currency": "GBP", "status": "completed", "order_date": "2024-05-03 10:00:00",
             "updated_at": "2024-05-03 10:00:00"},
        ],
    }  # fmt: skip


def table_differences(incremental: Path, full: Path, table: str) -> tuple[int, int, int]:
    con = duckdb.connect(str(incremental), read_only=True)
    try:
        con.execute(f"attach '{full}' as full_refresh (read_only)")
        only_incremental = con.execute(
            f"select count(*) from (select * from marts.{table} except select * from full_refresh.marts.{table})"
        ).fetchone()[0]
        only_full = con.execute(
            f"select count(*) from (select * from full_refresh.marts.{table} except select * from marts.{table})"
        ).fetchone()[0]
        rows = con.execute(f"select count(*) from marts.{table}").fetchone()[0]
        return only_incremental, only_full, rows
    finally:
        con.close()


@pytest.mark.slow
def test_incremental_build_equals_full_refresh(tmp_path: Path) -> None:
    incremental = settings_for(tmp_path / "incremental")
    write_lake(incremental.lake_dir, tiny_rows())
    first = build(incremental, full_refresh=True)
    assert first.ok, first.render()
    with duckdb.connect(str(incremental.warehouse_path), read_only=True) as con:
        built_t3 = "select count(*) from marts.fct_interactions where interaction_id = 'salesforce:T3'"
        assert con.execute(built_t3).fetchone()[0] == 1

    write_lake(incremental.lake_dir, next_day_rows(), file_name="extract_2", ingested_at=datetime(2025, 1, 2))
    second = build(incremental)
    assert second.ok, second.render()

    full = settings_for(tmp_path / "full", lake_dir=incremental.lake_dir)
    rebuilt = build(full, full_refresh=True)
    assert rebuilt.ok, rebuilt.render()

    for table in INCREMENTAL_FACTS:
        only_incremental, only_full, rows = table_differences(
            incremental.warehouse_path, full.warehouse_path, table
        )
        assert (only_incremental, only_full) == (0, 0), table
        assert rows > 0
    con = duckdb.connect(str(incremental.warehouse_path), read_only=True)
    try:
        t3 = con.execute("select count(*) from marts.fct_interactions where interaction_id = 'salesforce:T3'")
        assert t3.fetchone()[0] == 0
        b2 = con.execute("select amount from marts.fct_orders where order_id = 'billing:B2'").fetchone()[0]
        b1 = con.execute("select amount from marts.fct_orders where order_id = 'billing:B1'").fetchone()[0]
        m9 = con.execute(
            "select response_seconds from marts.fct_interactions where interaction_id = 'contact_center:M9'"
        ).fetchone()[0]
    finally:
        con.close()
    assert float(b1) == 110.0  # the late correction of an old order replaced the built row
    assert float(b2) == 55.0  # the later version of the order replaced the earlier one
    assert m9 == 7200
