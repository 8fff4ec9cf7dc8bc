"""Filters, drills, top N, totals, time intelligence, hostile input, dialects, golden SQL."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import duckdb
import pytest
import sqlglot

from cubes.compiler import compile_query
from cubes.engine import run_query
from cubes.errors import CubeError, QueryError
from cubes.query import Drill, Filter, Query, TopN, parse_filter
from tests.cubes.conftest import CASES, rows

GOLDEN = CASES / "golden"

OPERATIONS = {
    "filter_eq_in": Query(
        "pipeline",
        ["won", "win_rate"],
        rows=["owner.team"],
        filters=[Filter("campaign.lead_source", "in", ("Web", "Referral"))],
    ),
    "date_range": Query(
        "service",
        ["interactions"],
        rows=["date.month"],
        filters=[parse_filter("date.day=2025-03-01..2025-03-31")],
    ),
    "multi_fact_totals": Query(
        "pipeline", ["leads", "won", "median_days_in_stage"], rows=["owner.team"], totals=True
    ),
    "crosstab": Query(
        "retention", ["retention_rate"], rows=["cohort.month"], columns=["age.months_since_acquisition"]
    ),
    "drill_down": Query("pipeline", ["won"], rows=["date.year"], drills=[Drill("date.year", "down", 2025)]),
    "top_n": Query("pipeline", ["won_amount"], rows=["owner.owner"], top=TopN(1, "won_amount")),
    "time_intelligence": Query(
        "pipeline", ["won", "won@previous_period", "won@ytd", "won@rolling_3m"], rows=["date.month"]
    ),
    "type2_as_now": Query("pipeline", ["leads"], rows=["customer.segment"], customer_version="current"),
    "sla": Query("service", ["sla_attainment"], rows=["channel.group"]),
}


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_golden_sql(name):
    sql = compile_query(OPERATIONS[name]).to_sql("duckdb", pretty=True) + "\n"
    path = GOLDEN / f"{name}.sql"
    if os.environ.get("CRMWH_UPDATE_GOLDEN"):
        path.write_text(sql, encoding="utf-8")
    assert sql == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(OPERATIONS))
@pytest.mark.parametrize("dialect", ["duckdb", "spark", "postgres", "snowflake", "trino"])
def test_compiled_sql_parses_in_every_dialect(name, dialect):
    compiled = compile_query(OPERATIONS[name])
    # duckdb keeps $n placeholders (bound by the engine); other engines' drivers differ, so their text
    # carries the values as escaped literals
    text = compiled.to_sql(dialect, inline=dialect != "duckdb")
    assert len(sqlglot.parse(text, read=dialect)) == 1


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_every_operation_runs(con, name):
    assert run_query(con, OPERATIONS[name]).num_rows > 0


def test_filters(con):
    opps = rows(con, "fct_opportunities")
    got = run_query(
        con,
        Query("pipeline", ["opportunities_created"], filters=[Filter("date.day", "gte", ("2025-03-01",))]),
    ).to_pylist()
    assert got[0]["opportunities_created"] == sum(o["created_date"] >= dt.date(2025, 3, 1) for o in opps)
    got = run_query(
        con, Query("pipeline", ["opportunities_created"], filters=[parse_filter("owner.owner!=Ann,Bob")])
    ).to_pylist()
    assert got[0]["opportunities_created"] == sum(o["owner_key"] == "sf:3" for o in opps)
    got = run_query(
        con, Query("pipeline", ["opportunities_created"], filters=[parse_filter("date.month=2025-02")])
    ).to_pylist()
    assert got[0]["opportunities_created"] == sum(o["created_date"].month == 2 for o in opps)


def test_drill_down_and_up(con):
    down = run_query(
        con,
        Query(
            "pipeline", ["leads"], rows=["date.quarter"], drills=[Drill("date.quarter", "down", "2025-Q1")]
        ),
    ).to_pylist()
    assert [r["date.month"] for r in down] == [dt.date(2025, 1, 1), dt.date(2025, 2, 1), dt.date(2025, 3, 1)]
    assert [r["leads"] for r in down] == [3, 2, 2]
    up = run_query(
        con, Query("pipeline", ["leads"], rows=["date.quarter"], drills=[Drill("date.quarter", "up")])
    ).to_pylist()
    assert up == [{"date.year": 2025, "leads": 7}]
    with pytest.raises(QueryError, match="lowest level"):
        compile_query(Query("pipeline", ["leads"], rows=["date.day"], drills=[Drill("date.day", "down")]))


def test_top_and_bottom(con):
    top = run_query(
        con, Query("pipeline", ["won_amount"], rows=["owner.owner"], top=TopN(1, "won_amount"))
    ).to_pylist()
    assert [r["owner.owner"] for r in top] == ["Ann"]
    bottom = run_query(
        con, Query("pipeline", ["leads"], rows=["owner.owner"], top=TopN(1, "leads", bottom=True))
    ).to_pylist()
    assert [r["owner.owner"] for r in bottom] == ["Bob"]


def test_time_intelligence_against_python(con):
    opps = rows(con, "fct_opportunities")
    got = {r["date.month"]: r for r in run_query(con, OPERATIONS["time_intelligence"]).to_pylist()}

    def won_between(lo, hi):
        return sum(1 for o in opps if o["is_won"] and lo <= o["created_date"] <= hi)

    march = got[dt.date(2025, 3, 1)]
    assert march["won@previous_period"] == won_between(dt.date(2025, 2, 1), dt.date(2025, 2, 28))
    assert march["won@ytd"] == won_between(dt.date(2025, 1, 1), dt.date(2025, 3, 31))
    april = got[dt.date(2025, 4, 1)]
    assert april["won@rolling_3m"] == won_between(dt.date(2025, 2, 1), dt.date(2025, 4, 30))
    # a median over a window is computed from the window's rows, not from monthly medians
    stages = rows(con, "fct_opportunity_stage_changes")
    ytd = {
        r["date.month"]: r
        for r in run_query(
            con, Query("pipeline", ["median_days_in_stage@ytd"], rows=["date.month"])
        ).to_pylist()
    }
    import statistics

    days = [
        s["days_in_stage"]
        for s in stages
        if s["days_in_stage"] is not None and s["entered_date"] <= dt.date(2025, 3, 31)
    ]
    assert ytd[dt.date(2025, 3, 1)]["median_days_in_stage@ytd"] == pytest.approx(statistics.median(days))


def _add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by whole months, clamped to the month's last day (as SQL date arithmetic does)."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    next_month = dt.date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    return min(
        day.replace(day=1, year=year, month=month + 1) + dt.timedelta(days=day.day - 1),
        next_month - dt.timedelta(days=1),
    )


def test_every_window_of_every_month_against_python(warehouse_file, tmp_path):
    """Each month's shifted measures, by owner team, equal a count over the rows whose day lies in the
    window (start and end days of the month as the date dimension has them)."""
    path = tmp_path / "wh.duckdb"
    shutil.copyfile(warehouse_file, path)
    con = duckdb.connect(str(path))
    # Deals won a year before the others, so that same_period_last_year has something to count.
    con.execute(
        """insert into marts.fct_opportunities (opportunity_id, source_system, customer_key, owner_key,
        created_at, created_date, is_closed, is_won, is_lost)
        values ('sf:O8', 'salesforce', 'c1', 'sf:1', '2024-02-05 09:00', '2024-02-05', true, true, false),
               ('sf:O9', 'salesforce', 'c2', 'sf:2', '2024-04-01 09:00', '2024-04-01', true, true, false)"""
    )
    opps = rows(con, "fct_opportunities")
    owners = {o["owner_key"]: o["team_name"] for o in rows(con, "dim_owner")}
    bounds: dict[dt.date, tuple[dt.date, dt.date]] = {}
    for d in rows(con, "dim_date"):
        lo, hi = bounds.get(d["month_start_date"], (d["date_day"], d["date_day"]))
        bounds[d["month_start_date"]] = (min(lo, d["date_day"]), max(hi, d["date_day"]))
    kinds = ("previous_period", "ytd", "rolling_3m", "same_period_last_year")
    query = Query("pipeline", ["won", *(f"won@{k}" for k in kinds)], rows=["date.month", "owner.team"])
    answer = run_query(con, query).to_pylist()
    counted: set[str] = set()
    for row in answer:
        start, end = bounds[row["date.month"]]
        windows = {
            "previous_period": (_add_months(start, -1), start - dt.timedelta(days=1)),
            "ytd": (start.replace(month=1, day=1), end),
            "rolling_3m": (_add_months(end + dt.timedelta(days=1), -3), end),
            "same_period_last_year": (
                _add_months(start, -12),
                _add_months(end + dt.timedelta(days=1), -12) - dt.timedelta(days=1),
            ),
        }
        for kind, (lo, hi) in windows.items():
            expected = sum(
                1
                for o in opps
                if o["is_won"]
                and lo <= o["created_date"] <= hi
                and owners.get(o["owner_key"]) == row["owner.team"]
            )
            assert (row[f"won@{kind}"] or 0) == expected, (row["date.month"], row["owner.team"], kind)
            if expected:
                counted.add(kind)
    assert counted == set(kinds)  # every kind of window was checked on rows it counts


HOSTILE = "x'; drop table marts.fct_orders; --"


def test_hostile_filter_values_are_bound(warehouse_file):
    con = duckdb.connect(str(warehouse_file), read_only=False)
    try:
        before = con.execute("select count(*) from marts.fct_orders").fetchone()[0]
        compiled = compile_query(
            Query("pipeline", ["won"], rows=["owner.team"], filters=[parse_filter(f"owner.team={HOSTILE}")])
        )
        assert HOSTILE not in compiled.to_sql("duckdb") and compiled.params == [HOSTILE]
        assert run_query(con, compiled.query).num_rows == 0
        inline = compiled.to_sql("postgres", inline=True)
        assert len(sqlglot.parse(inline, read="postgres")) == 1  # the quote is escaped: one statement
        assert con.execute("select count(*) from marts.fct_orders").fetchone()[0] == before
    finally:
        con.close()


@pytest.mark.parametrize(
    "query",
    [
        Query("pipeline", [HOSTILE]),
        Query("pipeline", ["won"], rows=[HOSTILE]),
        Query("pipeline", ["won"], rows=["owner.team; drop table x"]),
        Query("pipeline", ["won"], order=[]).with_(cube=HOSTILE),
    ],
)
def test_hostile_names_are_refused(query):
    with pytest.raises(CubeError):
        compile_query(query)


def test_hostile_filter_syntax_refused():
    with pytest.raises(QueryError):
        parse_filter(f"{HOSTILE}=1")
    with pytest.raises(QueryError, match="not a valid integer"):
        compile_query(Query("pipeline", ["won"], filters=[Filter("date.year", "eq", (HOSTILE,))]))


def test_incompatible_level_is_refused():
    with pytest.raises(QueryError, match="dimension campaign"):
        compile_query(Query("pipeline", ["median_days_in_stage"], rows=["campaign.lead_source"]))


def test_golden_dir_exists():
    assert Path(GOLDEN).is_dir()
