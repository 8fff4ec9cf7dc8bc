"""Exact pre-aggregations (true medians, percentiles and distinct counts per stored grouping set) and the
additive ones added for the benchmark: every answer served from them equals the answer from the base facts,
and queries whose grouping sets or filters are not stored are answered from the base facts."""

from __future__ import annotations

import shutil
import statistics
from pathlib import Path

import duckdb
import pytest
import yaml

from cubes.compiler import GROUPING_COLUMN, compile_query, grouping_mask
from cubes.definitions import DefinitionError, default_cubes, load_cubes
from cubes.engine import run_query
from cubes.preaggregations import materialise
from cubes.query import Filter, Query

DEFINITIONS = Path(__file__).resolve().parents[2] / "cubes" / "definitions"


@pytest.fixture(scope="module")
def built(warehouse_file, tmp_path_factory):
    path = tmp_path_factory.mktemp("exact") / "wh.duckdb"
    shutil.copy(warehouse_file, path)
    con = duckdb.connect(str(path))
    materialise(con)
    yield con
    con.close()


SEGMENT_SMB = Filter("customer.segment", "eq", ("SMB",))
SEGMENT_MID = Filter("customer.segment", "eq", ("Mid-Market",))

# (query, the pre-aggregation that must serve it)
SERVED = [
    (
        Query(
            "service",
            ["interactions", "first_response_seconds_median", "first_response_business_seconds_p90"],
            rows=["date.month"],
            totals=True,
        ),
        "first_response_by_period",
    ),
    (Query("service", ["first_response_seconds_median"], rows=["date.week"]), "first_response_by_period"),
    (
        Query("service", ["interactions", "first_response_seconds_p90"], rows=["date.fiscal_quarter"]),
        "first_response_by_period",
    ),
    (Query("service", ["first_response_seconds_median", "first_responses"]), "first_response_by_period"),
    (
        Query(
            "service",
            ["first_response_seconds_median"],
            rows=["date.month"],
            filters=[Filter("date.month", "in", ("2025-03-01", "2025-04-01"))],
        ),
        "first_response_by_period",
    ),
    (
        Query(
            "retention",
            ["retention_rate", "customers_in_cohort", "customers_active"],
            rows=["cohort.month"],
            columns=["age.months_since_acquisition"],
            totals=True,
        ),
        "cohort_retention",
    ),
    (
        Query(
            "retention",
            ["retention_rate", "customers_in_cohort"],
            rows=["cohort.month", "age.months_since_acquisition"],
            filters=[SEGMENT_SMB],
            totals=True,
        ),
        "cohort_retention",
    ),
    (
        Query(
            "retention",
            ["retention_rate"],
            rows=["cohort.month", "age.months_since_acquisition"],
            filters=[SEGMENT_MID],
        ),
        "cohort_retention",
    ),
    (
        Query("retention", ["customers_in_cohort"], filters=[Filter("customer.segment", "eq", ("Nobody",))]),
        "cohort_retention",
    ),
    (
        Query(
            "retention",
            ["retention_rate"],
            rows=["cohort.month", "age.months_since_acquisition"],
            filters=[Filter("customer.segment", "eq", ("Nobody",))],
            totals=True,
        ),
        "cohort_retention",
    ),
    (
        Query(
            "pipeline",
            ["median_days_in_stage", "stage_conversion_rate"],
            rows=["funnel.step"],
            filters=[SEGMENT_SMB],
            totals=True,
        ),
        "funnel_by_segment",
    ),
    (
        Query("pipeline", ["median_days_in_stage", "stage_entries"], rows=["funnel.step"], totals=True),
        "funnel_by_segment",
    ),
    (
        Query(
            "pipeline",
            ["median_days_in_stage"],
            rows=["customer.segment"],
            filters=[Filter("customer.segment", "ne", ("Enterprise",))],
        ),
        "funnel_by_segment",
    ),
    (
        Query("service", ["sla_attainment"], rows=["channel.channel"], filters=[SEGMENT_SMB], totals=True),
        "interactions_by_segment",
    ),
    (Query("pipeline", ["won", "win_rate"], rows=["date.week"], totals=True), "opportunities_by_week"),
    (Query("pipeline", ["won", "win_rate"], rows=["date.fiscal_quarter"]), "opportunities_by_month"),
    (Query("pipeline", ["leads"], rows=["date.week"]), "leads_by_week"),
    (Query("pipeline", ["leads"], rows=["date.fiscal_quarter"], totals=True), "leads_by_month"),
    (Query("service", ["cases", "csat"], rows=["date.week", "channel.group"], totals=True), "cases_by_week"),
    (Query("service", ["cases", "csat"], rows=["date.fiscal_quarter", "channel.group"]), "cases_by_month"),
]


def _assert_same(fast: list[dict], base: list[dict]) -> None:
    assert len(fast) == len(base)
    for a, b in zip(fast, base, strict=True):
        assert a.keys() == b.keys()
        for k in a:
            if isinstance(b[k], float):
                assert a[k] == pytest.approx(b[k], rel=1e-12), k
            else:
                assert a[k] == b[k], k


@pytest.mark.parametrize(
    ("query", "preaggregation"), SERVED, ids=[f"{q.cube}-{p}-{i}" for i, (q, p) in enumerate(SERVED)]
)
def test_served_answer_equals_base(built, query, preaggregation):
    routed = compile_query(query, use_preaggregations=True)
    assert routed.preaggregations_used == [preaggregation]
    fast = run_query(built, query, use_preaggregations=True, pivot=False).to_pylist()
    base = run_query(built, query, use_preaggregations=False, pivot=False).to_pylist()
    assert base, "the base answer should not be empty"
    _assert_same(fast, base)


NOT_SERVED = [
    # a filter other than eq on a level the query does not show: the stored groups are per segment
    Query(
        "retention",
        ["retention_rate"],
        rows=["cohort.month", "age.months_since_acquisition"],
        filters=[Filter("customer.segment", "in", ("SMB", "Enterprise"))],
    ),
    # the grand total over some months only is not stored
    Query(
        "service",
        ["first_response_seconds_median"],
        rows=["date.month"],
        filters=[Filter("date.month", "in", ("2025-03-01", "2025-04-01"))],
        totals=True,
    ),
    # a filter on a level that is not stored
    Query(
        "service",
        ["first_response_seconds_median"],
        rows=["date.month"],
        filters=[Filter("channel.group", "eq", ("Digital",))],
    ),
    # a grouping set that is not stored (day), and two stored levels never stored together
    Query("service", ["first_response_seconds_median"], rows=["date.day"]),
    Query("service", ["first_response_seconds_median"], rows=["date.year", "date.month"]),
    # a measure the exact pre-aggregation does not hold
    Query("service", ["response_seconds_median"], rows=["date.month"]),
    # the stored segments are as at fact time
    Query(
        "retention",
        ["retention_rate"],
        rows=["cohort.month", "age.months_since_acquisition"],
        filters=[SEGMENT_MID],
        customer_version="current",
    ),
    # time intelligence is recomputed over each window from the base facts
    Query("service", ["first_response_seconds_median@previous_period"], rows=["date.month"]),
]


@pytest.mark.parametrize("query", NOT_SERVED, ids=range(len(NOT_SERVED)))
def test_unstored_shapes_read_the_base_facts(built, query):
    routed = compile_query(query, use_preaggregations=True)
    assert routed.preaggregations_used == []
    assert "cubes_preagg" not in routed.to_sql()
    assert run_query(built, query, pivot=False).num_rows > 0


def test_rolled_up_median_is_the_median_of_the_base_rows(built, con):
    """The subtotal of a median is the median of all rows, which no combination of the step medians gives."""
    days = [
        r[0]
        for r in con.execute(
            "select days_in_stage from marts.fct_opportunity_stage_changes where days_in_stage is not null"
        ).fetchall()
    ]
    by_step: dict[str, list[float]] = {}
    for step, value in con.execute(
        "select funnel_step, days_in_stage from marts.fct_opportunity_stage_changes"
    ).fetchall():
        if value is not None:
            by_step.setdefault(step, []).append(value)
    query = Query("pipeline", ["median_days_in_stage"], rows=["funnel.step"], totals=True)
    answer = run_query(built, query, pivot=False).to_pylist()
    assert compile_query(query, use_preaggregations=True).preaggregations_used == ["funnel_by_segment"]
    total = next(r for r in answer if r["funnel.step__total"])
    assert total["median_days_in_stage"] == statistics.median(days)
    assert statistics.median(days) != statistics.median(statistics.median(v) for v in by_step.values())
    for r in answer:
        if not r["funnel.step__total"] and r["funnel.step"] in by_step:
            assert r["median_days_in_stage"] == statistics.median(by_step[r["funnel.step"]])


def test_segment_retention_uses_the_segment_at_fact_time(built):
    """c1 was SMB until March 2025: the SMB triangle holds c1's January-February months only, and the
    cells of the 2025-01 cohort at ages 2 and 3 are censored for SMB (no rows), as from the base facts."""
    query = Query(
        "retention",
        ["retention_rate", "customers_in_cohort"],
        rows=["cohort.month", "age.months_since_acquisition"],
        filters=[SEGMENT_SMB],
    )
    answer = {
        (str(r["cohort.month"]), r["age.months_since_acquisition"]): (
            r["retention_rate"],
            r["customers_in_cohort"],
        )
        for r in run_query(built, query, pivot=False).to_pylist()
    }
    # c1 (active at ages 0, 1) and c3 (SMB from March, active at ages 0, 1)
    assert answer == {
        ("2025-01-01", 0): (1.0, 1),
        ("2025-01-01", 1): (1.0, 1),
        ("2025-03-01", 0): (1.0, 1),
        ("2025-03-01", 1): (1.0, 1),
    }


def test_stored_grouping_sets_are_told_apart(built):
    cube = default_cubes()["retention"]
    pre = next(p for p in cube.preaggregations if p.name == "cohort_retention")
    table = 'cubes_preagg."retention__cohort_retention"'
    masks = {r[0] for r in built.execute(f'select distinct "{GROUPING_COLUMN}" from {table}').fetchall()}
    assert masks == {grouping_mask(pre, s) for s in pre.grouping_sets}
    grand = built.execute(
        f'select "m__customers_in_cohort" from {table} where "{GROUPING_COLUMN}" = ?',
        [grouping_mask(pre, frozenset())],
    ).fetchall()
    assert grand == [(4,)]  # c1..c4, counted once across all their months
    assert grouping_mask(pre, frozenset({"cohort.month"})) == 0b011


def _write_cube(tmp_path: Path, preaggregation: dict) -> Path:
    shutil.copy(DEFINITIONS / "dimensions.yml", tmp_path / "dimensions.yml")
    data = yaml.safe_load((DEFINITIONS / "retention.yml").read_text(encoding="utf-8"))
    data["preaggregations"] = [preaggregation]
    (tmp_path / "retention.yml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("preaggregation", "message"),
    [
        (
            {
                "name": "p",
                "fact": "customer_months",
                "levels": ["cohort.month"],
                "measures": ["retention_rate"],
            },
            "declare an exact pre-aggregation",
        ),
        (
            {
                "name": "p",
                "fact": "customer_months",
                "levels": ["cohort.month"],
                "grouping_sets": [["cohort.month"]],
                "measures": ["revenue"],
            },
            "grouping_sets are only for exact pre-aggregations",
        ),
        (
            {
                "name": "p",
                "fact": "customer_months",
                "exact": True,
                "levels": ["cohort.month"],
                "grouping_sets": [["cohort.year"]],
                "measures": ["retention_rate"],
            },
            "not among its levels",
        ),
        (
            {
                "name": "p",
                "fact": "customer_months",
                "exact": True,
                "levels": ["cohort.month", "cohort.year"],
                "grouping_sets": [["cohort.month"]],
                "measures": ["retention_rate"],
            },
            "cohort.year are in no grouping set",
        ),
        (
            {
                "name": "p",
                "fact": "customer_months",
                "exact": "yes",
                "levels": ["cohort.month"],
                "measures": ["retention_rate"],
            },
            "exact must be true or false",
        ),
    ],
)
def test_bad_preaggregation_definitions_are_refused(tmp_path, preaggregation, message):
    with pytest.raises(DefinitionError, match=message):
        load_cubes(_write_cube(tmp_path, preaggregation))


def test_exact_preaggregation_without_grouping_sets_stores_its_full_grain(tmp_path, warehouse_file):
    cubes = load_cubes(
        _write_cube(
            tmp_path,
            {
                "name": "cells",
                "fact": "customer_months",
                "exact": True,
                "levels": ["cohort.month", "age.months_since_acquisition"],
                "measures": ["retention_rate"],
            },
        )
    )
    path = tmp_path / "wh.duckdb"
    shutil.copy(warehouse_file, path)
    con = duckdb.connect(str(path))
    try:
        assert materialise(con, cubes) == {"retention__cells": 7}
        cell = Query("retention", ["retention_rate"], rows=["cohort.month", "age.months_since_acquisition"])
        assert compile_query(cell, cubes, True).preaggregations_used == ["cells"]
        with_totals = cell.with_(totals=True)
        assert compile_query(with_totals, cubes, True).preaggregations_used == []
        _assert_same(
            run_query(con, cell, cubes, pivot=False).to_pylist(),
            run_query(con, cell, cubes, use_preaggregations=False, pivot=False).to_pylist(),
        )
    finally:
        con.close()


def test_distinct_counts_by_ordinal_equal_distinct_counts_of_the_values() -> None:
    from sqlglot import exp, parse_one

    from cubes.preaggregations import _count_ordinals

    con = duckdb.connect()
    con.execute(
        """create table facts as select * from (values
            ('a', 'k1', true), ('a', 'k1', false), ('a', 'k2', true), ('a', null, true),
            ('b', 'k2', false), ('b', 'k3', true), ('b', 'k3', true), ('b', null, false)
        ) as t(grp, customer_key, is_active)"""
    )
    sql = (
        "select f.grp, count(distinct f.customer_key) as customers, "
        "count(distinct case when f.is_active then f.customer_key end) as active, count(*) as n "
        "from facts as f group by grouping sets ((f.grp), ()) order by all"
    )
    select = parse_one(sql, read="duckdb")
    assert isinstance(select, exp.Select)
    _count_ordinals(select, "facts")
    rewritten = select.sql("duckdb")
    assert "_ordinal__customer_key" in rewritten
    expected = [("a", 2, 2, 4), ("b", 2, 1, 4), (None, 3, 3, 8)]
    assert con.execute(sql).fetchall() == expected
    assert con.execute(rewritten).fetchall() == expected


@pytest.mark.parametrize(
    "grouping_sets",
    [
        None,  # cohort_retention's own seven sets
        [["customer.segment"], []],
        [["cohort.month", "customer.segment"], ["age.months_since_acquisition"]],
        [
            ["age.months_since_acquisition", "customer.segment"],
            ["cohort.month", "age.months_since_acquisition"],
            [],
        ],
    ],
)
def test_distinct_count_lattice_equals_count_distinct_over_grouping_sets(
    tmp_path, warehouse_file, monkeypatch, grouping_sets
):
    """The lattice of deduplications against the engine's COUNT(DISTINCT) over GROUPING SETS, over the
    hand-made facts plus the traps: a month without a customer key (counted by neither, but its cells
    exist), a customer active in no month (in the cohort, never active), one whose segment changes."""
    import cubes.preaggregations as preaggregations

    pre = next(p for p in default_cubes()["retention"].preaggregations if p.name == "cohort_retention")
    sets = grouping_sets or [list(s) for s in pre.grouping_sets]
    definition = {
        "name": "cells",
        "fact": "customer_months",
        "exact": True,
        "levels": [level for level in pre.levels if any(level in s for s in sets)],
        "grouping_sets": sets,
        "measures": ["customers_in_cohort", "customers_active"],
    }
    cubes = load_cubes(_write_cube(tmp_path, definition))
    cube = cubes["retention"]
    path = tmp_path / "wh.duckdb"
    shutil.copy(warehouse_file, path)
    con = duckdb.connect(str(path))
    try:
        con.execute(
            """insert into marts.fct_customer_months values
            (null, '2025-02-01', '2025-01-01', 1, true, 10, 1, 0, false, false, 0),
            (null, '2031-01-01', '2031-01-01', 0, true, 10, 1, 0, false, false, 0),
            ('never', '2025-01-01', '2025-01-01', 0, false, 0, 0, 0, false, false, 0),
            ('never', '2025-02-01', '2025-01-01', 1, false, 0, 0, 0, false, false, 0)"""
        )
        lattice = preaggregations.preaggregation_sql(cube, cube.preaggregations[0])
        assert "GROUPING SETS" not in lattice.sql("duckdb")
        monkeypatch.setattr(preaggregations, "_distinct_count_lattice", lambda *args: None)
        grouping = preaggregations.preaggregation_sql(cube, cube.preaggregations[0])
        assert "GROUPING SETS" in grouping.sql("duckdb")
        got = con.execute(f"select * from ({lattice.sql('duckdb')}) order by all").fetchall()
        expected = con.execute(f"select * from ({grouping.sql('duckdb')}) order by all").fetchall()
        assert got == expected
        n = len(definition["levels"])
        if [] in sets:  # the grand total is stored, with every level's GROUPING bit set, and counts someone
            assert [row for row in expected if row[n] == 2**n - 1 and row[n + 1] > 0]
        if any("cohort.month" in s for s in sets):  # the key-less 2031 cohort's cells count nobody
            assert [row for row in expected if row[n + 1] == 0]
    finally:
        con.close()
