"""The dashboard: one self-contained HTML file whose every number is a cube answer. Built from the hand-made
warehouse of the cube tests (tests/cases/cubes/warehouse.sql); the embedded queries are re-run through the API's
request model and the cube engine, and the key figures are checked against the marts directly."""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from cubes.engine import run_query
from warehouse.api import QueryRequest
from warehouse.config import PathsConfig, Settings
from warehouse.report import DATA_ELEMENT_ID, ReportError, build_report, reporting_month

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "cases" / "cubes"


@pytest.fixture(scope="module")
def warehouse_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cubes.preaggregations import materialise
    from cubes.views import create_views

    path = tmp_path_factory.mktemp("report") / "wh.duckdb"
    con = duckdb.connect(str(path))
    con.execute((CASES / "warehouse.sql").read_text(encoding="utf-8"))
    create_views(con)
    materialise(con)
    con.execute("checkpoint")
    con.close()
    return path


@pytest.fixture(scope="module")
def report(warehouse_file: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    settings = Settings(paths=PathsConfig(warehouse_path=warehouse_file))
    out = build_report(settings, tmp_path_factory.mktemp("out") / "nested" / "dashboard.html")
    text = out.read_text(encoding="utf-8")
    match = re.search(rf'<script type="application/json" id="{DATA_ELEMENT_ID}">(.*?)</script>', text, re.S)
    assert match, "the dashboard lacks its data block"
    return text, json.loads(match.group(1))


def sql(path: Path, query: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def test_the_file_is_self_contained_with_plotly_inlined(report: tuple[str, dict[str, Any]]) -> None:
    text, _ = report
    assert re.search(r"<script[^>]+src=", text) is None
    assert "<link" not in text
    assert "cdn.plot.ly" not in text.split("</head>")[1]
    assert len(text) > 3_000_000  # the plotly.js bundle is in the file
    assert text.count('class="plotly-graph-div"') == 8


def test_every_embedded_answer_equals_the_cube_query_it_records(
    report: tuple[str, dict[str, Any]], warehouse_file: Path
) -> None:
    _, data = report
    assert len(data["queries"]) >= 12
    for key, answer in data["queries"].items():
        query = QueryRequest(**answer["query"]).to_query()
        fresh = run_query(warehouse_file, query)
        assert answer["row_count"] == fresh.num_rows, key
        assert answer["columns"] == fresh.column_names, key
        if "rows" not in answer:
            continue
        for embedded, expected in zip(answer["rows"], fresh.to_pylist(), strict=True):
            for name, value in expected.items():
                assert same(embedded[name], cell(value)) or embedded[name] == cell(value), (key, name)


def test_funnel_numbers_equal_the_marts(report: tuple[str, dict[str, Any]], warehouse_file: Path) -> None:
    _, data = report
    total = data["funnel"]["total"]
    leads, converted = sql(
        warehouse_file, "select count(*), count(*) filter (where has_opportunity) from marts.fct_leads"
    )[0]
    won, lost = sql(
        warehouse_file,
        "select count(*) filter (where is_won), count(*) filter (where is_lost) from marts.fct_opportunities",
    )[0]
    assert (total["leads"], total["converted_leads"], total["won"]) == (leads, converted, won)
    assert total["win_rate"] == pytest.approx(won / (won + lost))
    assert sum(g["leads"] for g in data["funnel"]["groups"]) == leads


def test_censored_retention_cells_are_blank_not_zero(
    report: tuple[str, dict[str, Any]], warehouse_file: Path
) -> None:
    _, data = report
    r = data["retention"]
    observed = {
        (c.isoformat(), str(a))
        for c, a in sql(
            warehouse_file,
            "select distinct cohort_month, months_since_acquisition from marts.fct_customer_months",
        )
    }
    blanks = 0
    for cohort, values in zip(r["cohorts"], r["z"], strict=True):
        for age, value in zip(r["ages"], values, strict=True):
            if (cohort, age) in observed:
                assert value is not None
            else:
                assert value is None, (cohort, age)
                blanks += 1
    assert blanks > 0, "the fixture has a censored cell"


def test_lifetime_value_histogram_and_at_risk_list_cover_every_customer(
    report: tuple[str, dict[str, Any]], warehouse_file: Path
) -> None:
    _, data = report
    v = data["lifetime_value"]
    rows = sql(
        warehouse_file,
        "select probability_alive, revenue_to_date_reporting from marts.customer_lifetime_value",
    )
    assert sum(v["probability_alive"]["customers"]) + v["probability_alive"]["unknown"] == len(rows)
    expected = [0] * 10
    for p, _ in rows:
        expected[min(int(p * 10), 9)] += 1
    assert v["probability_alive"]["customers"] == expected
    risky = sorted((float(rev) for p, rev in rows if p < 0.5), reverse=True)
    assert [r["revenue_to_date"] for r in v["at_risk"]] == pytest.approx(risky[: len(v["at_risk"])])
    assert sum(s["customers"] for s in v["segments"]) == len(rows)


def test_headlines_compare_with_the_previous_period(report: tuple[str, dict[str, Any]]) -> None:
    text, data = report
    leads = next(h for h in data["headlines"] if h["measure"] == "leads")
    rows = data["queries"]["headlines_pipeline_date"]["rows"]
    months = [r["date.month"] for r in rows]
    row = rows[months.index(leads["period"])]
    assert (leads["value"], leads["previous"]) == (row["leads"], row["leads@previous_period"])
    if leads["previous"]:
        assert leads["change"] == pytest.approx((leads["value"] - leads["previous"]) / leads["previous"])
    assert data["meta"]["data_until"] and data["meta"]["built_at"]
    assert f"data until {data['meta']['data_until']}" in text


def test_the_reporting_month_is_the_latest_complete_one() -> None:
    months = ["2025-01-01", "2025-02-01", "2025-03-01"]
    assert reporting_month("2025-03-31", months) == "2025-03-01"
    assert reporting_month("2025-03-30", months) == "2025-02-01"
    assert reporting_month(None, months) == "2025-03-01"
    assert reporting_month("2025-03-10", []) is None


def test_a_missing_warehouse_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(paths=PathsConfig(warehouse_path=tmp_path / "none.duckdb"))
    with pytest.raises(ReportError, match="crmwh build"):
        build_report(settings, tmp_path / "d.html")
