"""The dashboard and the pivot explorer in a real browser: the operating system's headless Chromium driven by
Playwright. The dashboard file is opened from disk (file://); the explorer is served by the cube API on a free
local port. Screenshots go to .test-artifacts/ (or $CRMWH_TEST_ARTIFACTS)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, sync_playwright

from warehouse.api import create_app
from warehouse.config import PathsConfig, ServeConfig, Settings
from warehouse.report import build_report
from warehouse.serve import running_server

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "cases" / "cubes"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "explorer-test-token-0123456789"
EMEA_TOKEN = "explorer-emea-token-0123456789"
TOKEN_ENV = {"T_EXPLORER": TOKEN, "T_EXPLORER_EMEA": EMEA_TOKEN}
DASHBOARD_CHARTS = (
    "funnel",
    "funnel_by_source",
    "win_rate",
    "retention",
    "response_time",
    "sla_over_time",
    "value_by_segment",
    "probability_alive",
)

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no /usr/bin/chromium: install it with apt-get install -y chromium"
)


def artifacts_dir() -> Path:
    path = Path(os.environ.get("CRMWH_TEST_ARTIFACTS", ROOT / ".test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def make_warehouse(path: Path) -> Path:
    from cubes.preaggregations import materialise
    from cubes.views import create_views

    con = duckdb.connect(str(path))
    con.execute((CASES / "warehouse.sql").read_text(encoding="utf-8"))
    create_views(con)
    materialise(con)
    con.execute("checkpoint")
    con.close()
    return path


def settings_for(warehouse: Path) -> Settings:
    serve = ServeConfig(
        tokens={"explorer": "env:T_EXPLORER", "emea": "env:T_EXPLORER_EMEA"}, token_regions={"emea": "EMEA"}
    )
    return Settings(paths=PathsConfig(warehouse_path=warehouse), serve=serve)


@pytest.fixture(scope="module")
def warehouse_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_warehouse(tmp_path_factory.mktemp("browser") / "wh.duckdb")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        # A persistent context is how Playwright gives Chromium a fresh user-data dir; pages come from it.
        yield context
        context.close()


@pytest.fixture()
def page(browser: BrowserContext) -> Iterator[tuple[Page, list[str]]]:
    page = browser.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url}"))
    yield page, errors
    page.close()


def test_dashboard_renders_every_chart_with_data_offline(
    warehouse_file: Path, tmp_path: Path, page: tuple[Page, list[str]]
) -> None:
    page_, errors = page
    out = build_report(settings_for(warehouse_file), tmp_path / "dashboard.html")
    external: list[str] = []
    page_.on(
        "request", lambda request: None if request.url.startswith("file:") else external.append(request.url)
    )
    started = time.perf_counter()
    page_.goto(out.as_uri())
    page_.wait_for_function(
        "ids => ids.every(id => { const d = document.getElementById(id); return d && d.querySelector('.main-svg'); })",
        arg=[f"chart-{c}" for c in DASHBOARD_CHARTS],
        timeout=30_000,
    )
    render_seconds = time.perf_counter() - started
    for chart in DASHBOARD_CHARTS:
        rendered = page_.evaluate(
            """id => { const d = document.getElementById(id);
                 return {traces: d.data.length,
                         points: d.data.reduce((n, t) => n + (t.z ? t.z.flat().filter(v => v !== null).length
                                                                 : (t.y || []).filter(v => v !== null).length), 0),
                         shapes: d.querySelectorAll('g.trace path, .hm image').length}; }""",
            f"chart-{chart}",
        )
        assert rendered["traces"] > 0, chart
        assert rendered["points"] > 0, f"{chart} has no data points"
        assert rendered["shapes"] > 0, f"{chart} drew nothing"
    assert page_.locator("#headlines .card").count() == 8
    assert errors == []
    assert external == [], "the dashboard fetched something from outside the file"
    page_.screenshot(path=str(artifacts_dir() / "dashboard.png"), full_page=True)
    print(f"dashboard {out.stat().st_size / 1e6:.2f} MB rendered in {render_seconds:.2f} s")


@pytest.fixture(scope="module")
def explorer_url(warehouse_file: Path) -> Iterator[str]:
    app = create_app(settings_for(warehouse_file), env=TOKEN_ENV)
    with running_server(app) as url:
        yield url


def post_query(url: str, body: dict[str, Any], token: str = TOKEN) -> list[dict[str, Any]]:
    answer = httpx.post(f"{url}/query", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["rows"]


def table_cells(page: Page) -> dict[str, dict[str, str]]:
    """The pivot table as {row member: {column: raw value}}."""
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('#pivot tbody tr')].map(tr =>
             [tr.querySelector('td.member').textContent,
              Object.fromEntries([...tr.querySelectorAll('td[data-column]')].map(td =>
                 [td.dataset.column, td.dataset.value]))]))"""
    )


def as_cells(rows: list[dict[str, Any]], level: str, measures: list[str]) -> dict[str, dict[str, str]]:
    return {str(r[level]): {m: "" if r[m] is None else str(r[m]) for m in measures} for r in rows}


def connect(page: Page, url: str, token: str) -> None:
    page.goto(f"{url}/explorer/")
    page.fill("#token", token)
    page.click("#connect")
    page.wait_for_selector("#controls:not([hidden])")


def run_and_wait(page: Page, action: Any) -> None:
    before = page.evaluate("() => document.getElementById('status').textContent")
    action()
    page.wait_for_function(
        "before => { const s = document.getElementById('status').textContent; return s !== before && / rows in /.test(s); }",
        arg=before,
    )


def numbers(cells: dict[str, dict[str, str]]) -> list[float]:
    return [float(v) for row in cells.values() for v in row.values() if v != ""]


def test_explorer_pivots_drills_down_and_charts_the_api_answers(
    explorer_url: str, page: tuple[Page, list[str]]
) -> None:
    page_, errors = page
    connect(page_, explorer_url, TOKEN)
    assert "explorer" in page_.text_content("#who")
    page_.select_option("#cube", "pipeline")
    measures = ["leads", "won"]
    for box in page_.locator("#measures input").all():
        box.set_checked(box.get_attribute("value") in measures)
    page_.select_option("#rows", "customer.region")
    run_and_wait(page_, lambda: page_.click("#run"))
    by_region = table_cells(page_)
    expected = as_cells(
        post_query(explorer_url, {"cube": "pipeline", "measures": measures, "rows": ["customer.region"]}),
        "customer.region",
        measures,
    )
    assert by_region == expected
    assert "EMEA" in by_region

    run_and_wait(page_, lambda: page_.click("#pivot td.member.drillable[data-member='EMEA']"))
    by_country = table_cells(page_)
    expected = as_cells(
        post_query(
            explorer_url,
            {
                "cube": "pipeline",
                "measures": measures,
                "rows": ["customer.country"],
                "filters": [{"level": "customer.region", "op": "eq", "values": ["EMEA"]}],
            },
        ),
        "customer.country",
        measures,
    )
    assert by_country == expected
    assert by_country != by_region
    assert set(by_country) <= {"Germany", "France", "United Kingdom", "Spain", "Italy", "Netherlands"} | set(
        expected
    )
    assert sum(float(r["leads"] or 0) for r in by_country.values()) == float(by_region["EMEA"]["leads"])
    assert page_.text_content("#breadcrumb").strip().endswith("customer.region = EMEA")
    page_.screenshot(path=str(artifacts_dir() / "explorer-table.png"))

    page_.click("#view-chart")
    page_.wait_for_selector("#result-chart .main-svg")
    chart = page_.evaluate(
        "() => document.getElementById('result-chart').data.map(t => ({name: t.name, x: t.x, y: t.y}))"
    )
    assert [t["name"] for t in chart] == measures
    for trace in chart:
        assert dict(zip(trace["x"], [str(v) for v in trace["y"]], strict=True)) == {
            country: cells[trace["name"]] for country, cells in by_country.items()
        }
    assert page_.locator("#result-chart g.trace path").count() > 0
    page_.screenshot(path=str(artifacts_dir() / "explorer.png"))
    assert errors == []


def test_explorer_runs_under_the_users_token_so_region_restrictions_apply(
    explorer_url: str, page: tuple[Page, list[str]]
) -> None:
    page_, _ = page
    connect(page_, explorer_url, EMEA_TOKEN)
    assert "EMEA" in page_.text_content("#who")
    page_.select_option("#cube", "pipeline")
    page_.select_option("#rows", "customer.region")
    run_and_wait(page_, lambda: page_.click("#run"))
    assert list(table_cells(page_)) == ["EMEA"]


def test_explorer_shows_the_apis_refusal_of_a_bad_token(
    explorer_url: str, page: tuple[Page, list[str]]
) -> None:
    page_, _ = page
    page_.goto(f"{explorer_url}/explorer/")
    page_.fill("#token", "not-a-valid-token-at-all")
    page_.click("#connect")
    page_.wait_for_selector("#error:not([hidden])")
    assert "401" in page_.text_content("#error")
    assert page_.locator("#controls").is_hidden()
