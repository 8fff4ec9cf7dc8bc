"""Answers of several facts joined on the grain, and the Arrow tables the engine hands back."""

from __future__ import annotations

from collections import Counter
from datetime import date

import duckdb
import pyarrow as pa
import pytest

from cubes.compiler import compile_query
from cubes.engine import _to_arrow, run_query
from cubes.query import Filter, Query
from tests.cubes.conftest import rows


def month(day: date) -> date:
    return day.replace(day=1)


def test_members_of_any_fact_come_out_once_with_zero_for_the_others(con):
    leads = Counter(month(r["created_date"]) for r in rows(con, "fct_leads"))
    opportunities = Counter(month(r["created_date"]) for r in rows(con, "fct_opportunities"))
    assert set(opportunities) - set(leads), "the case needs a month with opportunities and no leads"
    result = run_query(
        con,
        Query("pipeline", ["leads", "opportunities_created"], rows=["date.month"]),
        use_preaggregations=False,
    ).to_pylist()
    assert [r["date.month"] for r in result] == sorted(set(leads) | set(opportunities))
    for r in result:
        assert r["leads"] == leads[r["date.month"]]
        assert r["opportunities_created"] == opportunities[r["date.month"]]


def test_totals_of_several_facts_on_rows_and_columns(con):
    owners = {r["owner_key"]: r["team_name"] for r in rows(con, "dim_owner")}
    leads = [(owners[r["owner_key"]], month(r["created_date"])) for r in rows(con, "fct_leads")]
    opportunities = [
        (owners[r["owner_key"]], month(r["created_date"])) for r in rows(con, "fct_opportunities")
    ]
    result = run_query(
        con,
        Query(
            "pipeline",
            ["leads", "opportunities_created"],
            rows=["owner.team"],
            columns=["date.month"],
            totals=True,
        ),
        use_preaggregations=False,
        pivot=False,
    ).to_pylist()
    cells = Counter(
        (r["owner.team__total"], r["owner.team"], r["date.month__total"], r["date.month"]) for r in result
    )
    assert max(cells.values()) == 1, "each cell, subtotal and total comes out once"

    def expected(facts: list[tuple[str, date]], team_total: bool, team: str, month_total: bool, day: date):
        return sum(1 for t, m in facts if (team_total or t == team) and (month_total or m == day))

    keys = {(t, m) for t, m in leads + opportunities}
    assert len(result) == len(keys) + len({t for t, _ in keys}) + len({m for _, m in keys}) + 1
    for r in result:
        where = (r["owner.team__total"], r["owner.team"], r["date.month__total"], r["date.month"])
        assert r["leads"] == expected(leads, *where)
        assert r["opportunities_created"] == expected(opportunities, *where)


QUERIES = [
    Query("pipeline", ["won", "win_rate", "won_amount"], rows=["owner.team"], totals=True),
    Query("pipeline", ["leads", "opportunities_created"], rows=["date.month", "campaign.lead_source"]),
    Query("service", ["interactions"], rows=["date.day"]),
    Query("retention", ["retention_rate"], rows=["cohort.month"], columns=["age.months_since_acquisition"]),
    Query("pipeline", ["leads"], rows=["owner.team"], filters=[Filter("owner.team", "eq", ("nobody",))]),
]


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: f"{q.cube}-{'-'.join(map(str, q.measures))}")
def test_answers_are_duckdbs_own_arrow_export(con, query):
    compiled = compile_query(query)
    expected = con.sql(compiled.to_sql("duckdb"), params=compiled.params or None).to_arrow_table()
    answer = run_query(con, query, use_preaggregations=False, pivot=False)
    assert answer.schema == expected.schema
    assert answer.equals(expected)


PLAIN = {
    "big": "range::bigint",
    "int": "range::int",
    "small": "range::smallint",
    "tiny": "(range % 100)::tinyint",
    "flag": "range % 2 = 0",
    "ratio": "range / 3",
    "single": "(range / 3)::float",
    "text": "range::varchar",
    "day": "date '2024-02-28' + range::int",
    "at": "timestamp '2024-01-01 10:00:00.123456' + to_hours(range)",
}


@pytest.mark.parametrize("n", [0, 1, 5, 3000])
def test_plain_types_keep_duckdbs_arrow_types_and_nulls(n):
    con = duckdb.connect()
    # Every third row is NULL in every column.
    outputs = ", ".join(
        f"case when range % 3 = 1 then null else {e} end as {name}" for name, e in PLAIN.items()
    )
    sql = f"select {outputs} from range({n})"
    expected = con.sql(sql).to_arrow_table()
    answer = _to_arrow(con.execute(sql))
    assert answer.schema == expected.schema
    assert answer.equals(expected)
    assert answer.num_rows == n
    assert answer.column("text").null_count == len(range(1, n, 3))


def test_decimals_and_nested_types_keep_their_exact_values():
    con = duckdb.connect()
    sql = "select 12345678901234567890.12::decimal(38,2) as amount, [1, 2] as items, null::decimal(18,2) as none"
    answer = _to_arrow(con.execute(sql))
    assert answer.schema.field("amount").type == pa.decimal128(38, 2)
    assert str(answer.column("amount")[0]) == "12345678901234567890.12"
    assert answer.column("items").to_pylist() == [[1, 2]]
    assert answer.column("none").to_pylist() == [None]
