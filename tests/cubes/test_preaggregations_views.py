"""Pre-aggregated answers equal base answers; the SQL views agree with the engine."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from cubes.compiler import compile_query
from cubes.engine import run_query
from cubes.preaggregations import materialise
from cubes.query import Filter, Query
from cubes.views import create_views


@pytest.fixture(scope="module")
def built(warehouse_file, tmp_path_factory):
    path = tmp_path_factory.mktemp("preagg") / "wh.duckdb"
    shutil.copy(warehouse_file, path)
    con = duckdb.connect(str(path))
    counts = materialise(con)
    create_views(con)
    yield con, counts
    con.close()


PREAGG_QUERIES = [
    Query(
        "pipeline",
        [
            "won",
            "lost",
            "win_rate",
            "win_rate_amount",
            "pipeline_value",
            "weighted_pipeline",
            "average_sales_cycle_days",
        ],
        rows=["date.quarter", "owner.team"],
        totals=True,
    ),
    Query(
        "pipeline",
        ["leads", "lead_to_opportunity_rate"],
        rows=["campaign.lead_source"],
        filters=[Filter("date.month", "gte", ("2025-02-01",))],
    ),
    Query(
        "service",
        ["interactions", "sla_attainment", "first_response_seconds_mean"],
        rows=["channel.group"],
        columns=["interaction.direction"],
        totals=True,
    ),
    Query(
        "service", ["csat", "escalation_rate", "resolution_seconds_mean"], rows=["case.priority"], totals=True
    ),
    Query(
        "retention",
        ["net_revenue_retention", "gross_revenue_retention", "churn_rate"],
        rows=["cohort.month", "age.months_since_acquisition"],
        totals=True,
    ),
    Query(
        "customer_value",
        ["average_order_value", "purchase_frequency", "predicted_value_12m_mean"],
        rows=["customer.segment"],
        customer_version="current",
        totals=True,
    ),
]


@pytest.mark.parametrize("query", PREAGG_QUERIES, ids=lambda q: q.cube)
def test_preaggregation_answer_equals_base(built, query):
    con, _ = built
    routed = compile_query(query, use_preaggregations=True)
    assert routed.preaggregations_used, "the query should be answered from a pre-aggregation"
    assert "cubes_preagg" in routed.to_sql()
    fast = run_query(con, query, use_preaggregations=True, pivot=False).to_pylist()
    base = run_query(con, query, use_preaggregations=False, pivot=False).to_pylist()
    assert len(fast) == len(base)
    for a, b in zip(fast, base, strict=True):
        assert a.keys() == b.keys()
        for k in a:
            if isinstance(b[k], float):
                assert a[k] == pytest.approx(b[k], rel=1e-12)
            else:
                assert a[k] == b[k], k


def test_non_additive_measures_never_use_preaggregations():
    for q in (
        Query("pipeline", ["stage_conversion_rate"], rows=["date.month"]),
        Query("service", ["first_response_seconds_median"], rows=["channel.group"]),
        Query("customer_value", ["customers"], rows=["customer.segment"], customer_version="current"),
        Query("pipeline", ["won"], rows=["date.day"]),  # day is not a level of a pipeline pre-aggregation
    ):
        assert compile_query(q, use_preaggregations=True).preaggregations_used == []


def test_views_agree_with_engine(built):
    con, _ = built
    view = {
        r[0]: r[1:]
        for r in con.execute(
            'select "owner_team", sum("won"), sum("lost"), sum("won_amount"), sum("lost_amount"), '
            'sum("average_sales_cycle_days_sum") / sum("average_sales_cycle_days_count") '
            "from cubes.pipeline where fact = 'opportunities' group by 1"
        ).fetchall()
    }
    engine = run_query(
        con,
        Query(
            "pipeline", ["won", "lost", "win_rate_amount", "average_sales_cycle_days"], rows=["owner.team"]
        ),
    ).to_pylist()
    for r in engine:
        won, lost, won_amt, lost_amt, cycle = view[r["owner.team"]]
        assert (r["won"], r["lost"]) == (won, lost)
        if (won_amt or 0) + (lost_amt or 0):
            assert r["win_rate_amount"] == pytest.approx(
                float(won_amt or 0) / float((won_amt or 0) + (lost_amt or 0))
            )
        assert r["average_sales_cycle_days"] == (pytest.approx(cycle) if cycle is not None else None)
    for cube in ("pipeline", "retention", "service", "customer_value"):
        assert con.execute(f"select count(*) from cubes.{cube}").fetchone()[0] > 0
    svc = con.execute(
        'select "channel_group", sum("first_responses_within_sla") from cubes.service group by 1'
    ).fetchall()
    engine = {
        r["channel.group"]: r["first_responses_within_sla"]
        for r in run_query(
            con, Query("service", ["first_responses_within_sla"], rows=["channel.group"])
        ).to_pylist()
    }
    for group, n in svc:
        assert engine.get(group, 0) == n


def test_stale_preaggregation_is_never_read(warehouse_file, tmp_path):
    """A pre-aggregation table left by other definitions (older code, an edited YAML) is ignored until
    `materialise` rebuilds it from the current ones."""
    from cubes.engine import available_preaggregations, compile_with_sql, forget_preaggregations

    path = tmp_path / "wh.duckdb"
    shutil.copy(warehouse_file, path)
    con = duckdb.connect(str(path))
    try:
        materialise(con)
        fresh = available_preaggregations(con)
        query = PREAGG_QUERIES[0]
        compiled, sql = compile_with_sql(con, query)
        used = compiled.preaggregations_used[0]
        table = f"{query.cube}__{used}"
        assert table in fresh and "cubes_preagg" in sql
        right = run_query(con, query, pivot=False).to_pylist()

        # Yesterday's table of that name: a column short and with other numbers.
        con.execute(f'create or replace table cubes_preagg."{table}" as select 1 as "date.quarter"')
        con.execute(
            f"comment on table cubes_preagg.\"{table}\" is 'crmwh pre-aggregation 0123456789abcdef0123'"
        )
        forget_preaggregations(con)
        assert table not in available_preaggregations(con)
        assert available_preaggregations(con) == fresh - {table}
        compiled, sql = compile_with_sql(con, query)
        assert used not in compiled.preaggregations_used
        assert run_query(con, query, pivot=False).to_pylist() == right

        con.execute(f'comment on table cubes_preagg."{table}" is null')
        forget_preaggregations(con)
        assert table not in available_preaggregations(con)

        materialise(con)
        assert available_preaggregations(con) == fresh
    finally:
        con.close()
