"""The HTTP cube API, tested with real HTTP requests against a uvicorn server on a free local port, answering
from the hand-made warehouse of the cube tests (tests/cases/cubes/warehouse.sql) with its cube views and
pre-aggregations, as the post-build step makes them."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pyarrow as pa
import pytest

from warehouse.api import create_app
from warehouse.api_bench import run_api_benchmark
from warehouse.config import PathsConfig, PrivacyConfig, ServeConfig, Settings, load_settings
from warehouse.errors import ConfigError
from warehouse.privacy import hash_salt, pii_hash
from warehouse.serve import running_server

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "cases" / "cubes"
ALL_TOKEN = "all-regions-token-0123456789"
EMEA_TOKEN = "emea-only-token-0123456789ab"
TOKEN_ENV = {"T_ALL": ALL_TOKEN, "T_EMEA": EMEA_TOKEN}
ALL = {"Authorization": f"Bearer {ALL_TOKEN}"}
EMEA = {"Authorization": f"Bearer {EMEA_TOKEN}"}
LEADS_BY_REGION = {
    "cube": "pipeline",
    "measures": ["leads"],
    "rows": ["customer.region"],
    "customer_version": "current",
}
EXTRA_EMEA_LEADS = 5
SLOW_QUERY = {
    "cube": "service",
    "measures": ["interactions@rolling_12m", "response_seconds_median@rolling_12m"],
    "rows": ["date.day"],
}


def make_warehouse(path: Path, extra_sql: str = "") -> Path:
    from cubes.preaggregations import materialise
    from cubes.views import create_views

    con = duckdb.connect(str(path))
    con.execute((CASES / "warehouse.sql").read_text(encoding="utf-8"))
    if extra_sql:
        con.execute(extra_sql)
    create_views(con)
    materialise(con)
    con.execute("checkpoint")
    con.close()
    return path


def settings_for(warehouse: Path, **serve: Any) -> Settings:
    options: dict[str, Any] = {
        "tokens": {"all": "env:T_ALL", "emea": "env:T_EMEA"},
        "token_regions": {"emea": "EMEA"},
        **serve,
    }
    # "all" sees personal data in clear, "emea" sees it hashed; the salt stays beside the test's warehouse.
    privacy = PrivacyConfig(salt_path=warehouse.parent / "salt", clear_tokens=("all",))
    return Settings(
        paths=PathsConfig(warehouse_path=warehouse), serve=ServeConfig(**options), privacy=privacy
    )


def leads_by_region_sql(path: Path) -> dict[str, int]:
    """Leads per current customer region, straight from the marts (independent of the cube engine)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "select c.region, count(*) from marts.fct_leads f join marts.dim_customer c "
            "on f.customer_key = c.customer_key and c.is_current group by 1"
        ).fetchall()
    finally:
        con.close()
    return {region: count for region, count in rows}


def by_region(answer: dict[str, Any]) -> dict[str, int]:
    return {r["customer.region"]: r["leads"] for r in answer["rows"]}


@pytest.fixture(scope="module")
def warehouse_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_warehouse(tmp_path_factory.mktemp("api") / "wh.duckdb")


@pytest.fixture(scope="module")
def server(warehouse_file: Path) -> Iterator[str]:
    with running_server(create_app(settings_for(warehouse_file), env=TOKEN_ENV)) as url:
        yield url


@pytest.fixture()
def http(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as client:
        yield client


# ------------------------------------------------------------------------------------------ configuration


def test_tokens_come_from_environment_or_private_files_never_from_the_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="env:VARIABLE or file:"):
        load_settings(tmp_path / "none.toml", env={"CRMWH_SERVE__TOKENS": json.dumps({"a": ALL_TOKEN})})
    with pytest.raises(ConfigError, match="no token named ghost"):
        load_settings(tmp_path / "none.toml", env={"CRMWH_SERVE__TOKEN_REGIONS": '{"ghost": "EMEA"}'})

    secret = tmp_path / "token"
    secret.write_text(ALL_TOKEN + "\n")
    secret.chmod(0o644)
    shared = Settings(
        paths=PathsConfig(warehouse_path=tmp_path / "wh.duckdb"),
        serve=ServeConfig(tokens={"a": f"file:{secret}"}),
    )
    with pytest.raises(ConfigError, match="chmod 600"):
        create_app(shared, env={})
    secret.chmod(0o600)
    create_app(shared, env={})

    from_env = Settings(serve=ServeConfig(tokens={"a": "env:MISSING"}))
    with pytest.raises(ConfigError, match="MISSING is not set"):
        create_app(from_env, env={})
    with pytest.raises(ConfigError, match="shorter than"):
        create_app(from_env, env={"MISSING": "short"})


def test_config_defaults_bind_localhost() -> None:
    settings = load_settings(ROOT / "crmwh.toml", env={})
    assert settings.serve.host == "127.0.0.1"
    assert settings.serve.tokens == {}


# ------------------------------------------------------------------------------------------ auth


def test_no_token_no_data(http: httpx.Client) -> None:
    for method, path, body in (("GET", "/cubes", None), ("POST", "/query", LEADS_BY_REGION)):
        for headers in (
            {},
            {"Authorization": "Bearer wrong-token-0123456789"},
            {"Authorization": ALL_TOKEN},
            {"Authorization": f"Basic {ALL_TOKEN}"},
        ):
            response = http.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, (path, headers)
            assert response.json()["error"] == "authentication required"
            assert response.headers["www-authenticate"] == "Bearer"
            assert ALL_TOKEN not in response.text


def test_a_server_without_tokens_answers_no_data(warehouse_file: Path) -> None:
    settings = Settings(paths=PathsConfig(warehouse_path=warehouse_file))
    with running_server(create_app(settings, env={})) as url:
        response = httpx.post(f"{url}/query", json=LEADS_BY_REGION, headers=ALL)
        assert response.status_code == 401
        assert "no tokens configured" in response.json()["detail"]


def test_catalogue_and_health(http: httpx.Client, warehouse_file: Path) -> None:
    catalogue = http.get("/cubes", headers=ALL).json()
    assert {c["cube"] for c in catalogue["cubes"]} == {"customer_value", "pipeline", "retention", "service"}
    assert catalogue["restricted_to"] is None
    assert http.get("/cubes", headers=EMEA).json()["restricted_to"] == {"customer.region": "EMEA"}

    health = http.get("/health").json()
    assert health["status"] == "ok"
    assert health["cube_views"] == 4
    built = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(warehouse_file.stat().st_mtime)))
    assert health["built_at"].startswith(built)
    assert http.get("/docs").status_code == 200
    assert "/query" in http.get("/openapi.json").json()["paths"]


# ------------------------------------------------------------------------------------------ answers


def test_query_answers_json_csv_and_arrow(http: httpx.Client, warehouse_file: Path) -> None:
    expected = leads_by_region_sql(warehouse_file)
    assert expected == {"EMEA": 3, "North America": 4}

    answer = http.post("/query", json=LEADS_BY_REGION, headers=ALL)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert by_region(answer.json()) == expected

    as_csv = http.post("/query", json=LEADS_BY_REGION, headers={**ALL, "Accept": "text/csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert {
        r["customer.region"]: int(r["leads"]) for r in csv.DictReader(io.StringIO(as_csv.text))
    } == expected
    assert http.post("/query?format=csv", json=LEADS_BY_REGION, headers=ALL).text == as_csv.text

    as_arrow = http.post(
        "/query", json=LEADS_BY_REGION, headers={**ALL, "Accept": "application/vnd.apache.arrow.stream"}
    )
    table = pa.ipc.open_stream(as_arrow.content).read_all()
    assert table.schema.field("leads").type == pa.int64()
    assert (
        dict(zip(table["customer.region"].to_pylist(), table["leads"].to_pylist(), strict=True)) == expected
    )


def test_full_query_model(http: httpx.Client) -> None:
    """Filters in both forms, drill, top N, order, totals, time intelligence and a pivot, as the CLI takes them."""
    body = {
        "cube": "pipeline",
        "measures": ["leads", "leads@previous_period"],
        "rows": ["date.year"],
        "drills": [{"level": "date.year", "direction": "down", "member": 2025}],
        "filters": ["source_system.source_system=salesforce,hubspot"],
        "order": ["date.quarter"],
        "totals": True,
    }
    rows = http.post("/query", json=body, headers=ALL).json()["rows"]
    # Leads were created 2025-01-05 .. 2025-03-10: all in 2025-Q1; the grand total row is flagged.
    details = [r for r in rows if not r["date.quarter__total"]]
    assert [(r["date.quarter"], r["leads"]) for r in details] == [("2025-Q1", 7)]
    assert [r["leads"] for r in rows if r["date.quarter__total"]] == [7]

    top = {
        "cube": "pipeline",
        "measures": ["leads"],
        "rows": ["customer.customer"],
        "top": {"n": 1},
        "customer_version": "current",
    }
    assert [
        (r["customer.customer"], r["leads"])
        for r in http.post("/query", json=top, headers=ALL).json()["rows"]
    ] == [("Acme", 3)]

    pivot = {
        "cube": "pipeline",
        "measures": ["leads"],
        "rows": ["customer.region"],
        "columns": ["source_system.source_system"],
        "customer_version": "current",
        "filters": [{"level": "customer.region", "op": "eq", "values": ["EMEA"]}],
    }
    answer = http.post("/query", json=pivot, headers=ALL).json()
    assert answer["rows"] == [{"customer.region": "EMEA", "hubspot": 1, "salesforce": 2}]


# ------------------------------------------------------------------------------------------ row-level restriction


RESTRICTED_QUERIES = [
    {"cube": "pipeline", "measures": ["leads", "won", "won_amount"], "rows": ["customer.country"]},
    {"cube": "pipeline", "measures": ["leads"], "rows": ["date.month"], "totals": True},
    {
        "cube": "service",
        "measures": ["interactions", "first_response_seconds_median", "cases"],
        "rows": ["channel.channel"],
        "totals": True,
    },
    {"cube": "retention", "measures": ["customers_in_cohort", "revenue"], "rows": ["cohort.month"]},
    {
        "cube": "customer_value",
        "measures": ["customers", "revenue_to_date"],
        "rows": ["customer.segment"],
        "customer_version": "current",
    },
]


@pytest.mark.parametrize("query", RESTRICTED_QUERIES, ids=lambda q: q["cube"] + ":" + q["measures"][0])
def test_region_token_sees_only_its_region(http: httpx.Client, query: dict[str, Any]) -> None:
    restricted = http.post("/query", json=query, headers=EMEA)
    assert restricted.status_code == 200, restricted.text
    emea_filter = {"level": "customer.region", "op": "eq", "values": ["EMEA"]}
    filtered = http.post("/query", json={**query, "filters": [emea_filter]}, headers=ALL).json()
    everything = http.post("/query", json=query, headers=ALL).json()
    assert restricted.json()["rows"] == filtered["rows"]
    assert restricted.json()["rows"] != everything["rows"]


def test_region_token_cannot_widen_its_restriction(http: httpx.Client, warehouse_file: Path) -> None:
    customers = {
        "cube": "pipeline",
        "measures": ["leads"],
        "rows": ["customer.customer"],
        "customer_version": "current",
    }
    seen = {r["customer.customer"] for r in http.post("/query", json=customers, headers=EMEA).json()["rows"]}
    salt = hash_salt(settings_for(warehouse_file))
    # the EMEA customers of the hand-made warehouse, hashed: "emea" is not in [privacy] clear_tokens
    assert seen == {pii_hash("Globex", salt), pii_hash("Initech", salt)}

    attempts = [
        {
            **LEADS_BY_REGION,
            "filters": [{"level": "customer.region", "op": "eq", "values": ["North America"]}],
        },
        {**LEADS_BY_REGION, "filters": [{"level": "customer.region", "op": "ne", "values": ["EMEA"]}]},
        {**LEADS_BY_REGION, "filters": ["customer.region!=EMEA"]},
        {
            **LEADS_BY_REGION,
            "rows": ["customer.country"],
            "drills": [{"level": "customer.country", "direction": "up"}],
        },
        {
            **LEADS_BY_REGION,
            "filters": [{"level": "customer.region", "op": "in", "values": ["EMEA", "North America"]}],
        },
        {**LEADS_BY_REGION, "customer_version": "as_at"},
    ]
    for attempt in attempts:
        response = http.post("/query", json=attempt, headers=EMEA)
        assert response.status_code in (200, 400), response.text
        if response.status_code == 200:
            regions = {r.get("customer.region") for r in response.json()["rows"]}
            assert regions <= {"EMEA"}, attempt
            assert (
                sum(r["leads"] for r in response.json()["rows"])
                <= leads_by_region_sql(warehouse_file)["EMEA"]
            )


# ------------------------------------------------------------------------------------------ hostile input


def test_sql_in_names_and_values_is_refused_or_harmless(http: httpx.Client, warehouse_file: Path) -> None:
    injections = [
        {**LEADS_BY_REGION, "measures": ["leads; drop table marts.fct_leads; --"]},
        {**LEADS_BY_REGION, "cube": 'pipeline"; drop schema marts cascade; --'},
        {**LEADS_BY_REGION, "rows": ["customer.region) from marts.dim_customer; --"]},
        {**LEADS_BY_REGION, "order": ["leads desc; drop table x"]},
        {**LEADS_BY_REGION, "filters": ["customer.region' or 1=1 --=EMEA"]},
    ]
    for body in injections:
        response = http.post("/query", json=body, headers=ALL)
        assert response.status_code == 400, body
        assert set(response.json()) == {"error", "detail"}
        assert "Traceback" not in response.text
    # A value is a bound parameter: it matches nothing rather than everything.
    for filters in (
        [{"level": "customer.region", "op": "eq", "values": ["x' or '1'='1"]}],
        ["customer.region=x' or '1'='1"],
    ):
        response = http.post("/query", json={**LEADS_BY_REGION, "filters": filters}, headers=ALL)
        assert response.status_code == 200 and response.json()["rows"] == []
    assert by_region(http.post("/query", json=LEADS_BY_REGION, headers=ALL).json()) == leads_by_region_sql(
        warehouse_file
    )


def test_unknown_names_get_a_helpful_400(http: httpx.Client) -> None:
    response = http.post("/query", json={**LEADS_BY_REGION, "measures": ["revenue_forecast"]}, headers=ALL)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid query"
    assert "unknown measure 'revenue_forecast'" in response.json()["detail"]
    assert "won_amount" in response.json()["detail"]  # lists what exists

    response = http.post("/query", json={**LEADS_BY_REGION, "cube": "sales"}, headers=ALL)
    assert response.status_code == 400 and "sales" in response.json()["detail"]
    response = http.post("/query", json={**LEADS_BY_REGION, "measures": ["leads@next_year"]}, headers=ALL)
    assert response.status_code == 400 and "time intelligence" in response.json()["detail"]


def test_malformed_and_oversized_requests(http: httpx.Client) -> None:
    broken = http.post(
        "/query", content=b'{"cube": "pipeline", ', headers={**ALL, "Content-Type": "application/json"}
    )
    assert broken.status_code == 400 and broken.json()["error"] == "malformed JSON"

    wrong = http.post(
        "/query", json={"cube": "pipeline", "measures": "leads", "limit": -3, "extra": 1}, headers=ALL
    )
    assert wrong.status_code == 422
    detail = wrong.json()["detail"]
    assert "measures" in detail and "limit" in detail and "extra" in detail

    huge = {
        **LEADS_BY_REGION,
        "filters": [{"level": "customer.region", "op": "in", "values": ["x" * 900] * 100}],
    }
    too_large = http.post("/query", json=huge, headers=ALL)
    assert too_large.status_code == 413 and too_large.json()["error"] == "request too large"

    def chunks() -> Iterator[bytes]:
        yield b'{"cube": "pipeline", "measures": ["leads"], "rows": ['
        for _ in range(2000):
            yield b'"customer.region",' * 10
        yield b'"customer.region"]}'

    streamed = http.post("/query", content=chunks(), headers={**ALL, "Content-Type": "application/json"})
    assert streamed.status_code == 413

    assert http.get("/nowhere", headers=ALL).json()["error"] == "not found"
    assert http.post("/query?format=xml", json=LEADS_BY_REGION, headers=ALL).status_code == 400


# ------------------------------------------------------------------------------------------ load and publish


def test_concurrent_clients_get_the_sequential_answers(http: httpx.Client, server: str) -> None:
    from cubes.query import Filter, Query
    from warehouse.api import query_payload

    payloads = [
        query_payload(q)
        for q in (
            Query("pipeline", ("won", "win_rate"), rows=("date.month",)),
            Query(
                "service",
                ("interactions", "first_response_seconds_median"),
                rows=("channel.group",),
                totals=True,
            ),
            Query("retention", ("retention_rate",), rows=("cohort.month", "age.months_since_acquisition")),
            Query(
                "pipeline",
                ("won_amount",),
                rows=("owner.team",),
                filters=(Filter("customer.segment", "eq", ("SMB",)),),
            ),
            Query(
                "customer_value",
                ("average_order_value",),
                rows=("customer.region",),
                customer_version="current",
            ),
        )
    ]
    sequential = [http.post("/query", json=p, headers=ALL).json() for p in payloads]
    failures: list[str] = []
    answers: list[tuple[int, Any]] = []
    lock = threading.Lock()

    def client(offset: int) -> None:
        with httpx.Client(base_url=server, headers=ALL, timeout=60) as own:
            for i in range(12):
                index = (offset + i) % len(payloads)
                response = own.post("/query", json=payloads[index])
                with lock:
                    if response.status_code != 200:
                        failures.append(response.text)
                    else:
                        answers.append((index, response.json()))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(answers) == 8 * 12
    for index, answer in answers:
        assert answer == sequential[index]


def test_queries_during_a_nightly_publish_answer_from_the_old_or_the_new_file(tmp_path: Path) -> None:
    old = make_warehouse(tmp_path / "old.duckdb")
    extra = ",".join(
        f"('x:{i}','hubspot','c2','sf:2','k2','2025-03-0{1 + i} 10:00','2025-03-0{1 + i}',false,null,null,null,false,'open')"
        for i in range(EXTRA_EMEA_LEADS)
    )
    new = make_warehouse(tmp_path / "new.duckdb", f"insert into marts.fct_leads values {extra}")
    old_answer, new_answer = leads_by_region_sql(old), leads_by_region_sql(new)
    assert new_answer["EMEA"] == old_answer["EMEA"] + EXTRA_EMEA_LEADS

    live = tmp_path / "live" / "crmwh.duckdb"
    live.parent.mkdir()
    shutil.copy(old, live)
    stop = threading.Event()
    seen: list[dict[str, int]] = []
    failures: list[str] = []
    lock = threading.Lock()
    with running_server(create_app(settings_for(live), env=TOKEN_ENV)) as url:

        def client() -> None:
            with httpx.Client(base_url=url, headers=ALL, timeout=60) as own:
                while not stop.is_set():
                    response = own.post("/query", json=LEADS_BY_REGION)
                    with lock:
                        if response.status_code == 200:
                            seen.append(by_region(response.json()))
                        else:
                            failures.append(response.text)

        threads = [threading.Thread(target=client) for _ in range(4)]
        for thread in threads:
            thread.start()
        for publish in range(8):
            # As the nightly does: a complete file next to the live one, renamed over it.
            staged = live.with_name(f"staged-{publish}.duckdb")
            shutil.copy(new if publish % 2 == 0 else old, staged)
            os.replace(staged, live)
            answered = len(seen)
            deadline = time.monotonic() + 20
            while len(seen) < answered + 3 and time.monotonic() < deadline and not failures:
                time.sleep(0.02)
        stop.set()
        for thread in threads:
            thread.join()
        final = httpx.post(f"{url}/query", json=LEADS_BY_REGION, headers=ALL).json()
    assert failures == []
    assert len(seen) >= 8 * 3
    counts = Counter(json.dumps(s, sort_keys=True) for s in seen)
    assert set(counts) <= {json.dumps(old_answer, sort_keys=True), json.dumps(new_answer, sort_keys=True)}
    assert len(counts) == 2, "both the old and the published file answered"
    assert by_region(final) == old_answer  # the last publish put the old file back


# ------------------------------------------------------------------------------------------ limits


@pytest.fixture(scope="module")
def slow_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three hundred thousand interactions over 347 days: the rolling-12-month median by day takes 1-2 s on it
    (20,000 rows took 0.12 s once time windows joined by day, too close to the 0.5 s time-out on a fast machine)."""
    rows = (
        "insert into marts.fct_interactions select 'x:' || i, 'contact_center', 'c' || (1 + i % 4), 'email', "
        "'sf:1', 'inbound', 'email', timestamp '2025-01-01' + to_seconds(i * 100), "
        "(timestamp '2025-01-01' + to_seconds(i * 100))::date, 10, 't' || i, null, i % 2 = 0, i % 100000, "
        "i % 50000, i % 3 = 0 from range(300000) t(i)"
    )
    return make_warehouse(tmp_path_factory.mktemp("slow") / "wh.duckdb", rows)


def test_a_long_query_is_stopped_with_504_and_the_server_goes_on(slow_warehouse: Path) -> None:
    timeout_ms = 100
    with running_server(
        create_app(settings_for(slow_warehouse, query_timeout_ms=timeout_ms), env=TOKEN_ENV)
    ) as url:
        started = time.perf_counter()
        response = httpx.post(f"{url}/query", json=SLOW_QUERY, headers=ALL, timeout=60)
        elapsed = time.perf_counter() - started
        assert response.status_code == 504
        assert response.json()["error"] == "query timed out"
        assert "narrow it" in response.json()["detail"]
        assert elapsed < 2 * timeout_ms / 1000 + 5
        quick = httpx.post(f"{url}/query", json=LEADS_BY_REGION, headers=ALL, timeout=60)
        assert quick.status_code == 200


def test_requests_beyond_the_queue_are_refused_503(slow_warehouse: Path) -> None:
    settings = settings_for(
        slow_warehouse, query_timeout_ms=1500, max_concurrent_queries=1, max_queued_requests=1
    )
    with running_server(create_app(settings, env=TOKEN_ENV)) as url:
        statuses: list[int] = []
        lock = threading.Lock()

        def ask() -> None:
            response = httpx.post(f"{url}/query", json=SLOW_QUERY, headers=ALL, timeout=60)
            with lock:
                statuses.append(response.status_code)

        threads = [threading.Thread(target=ask) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses.count(503) >= 1
    assert set(statuses) <= {200, 503, 504}


def test_answers_over_the_row_limit_are_refused(warehouse_file: Path) -> None:
    with running_server(create_app(settings_for(warehouse_file, max_result_rows=1), env=TOKEN_ENV)) as url:
        response = httpx.post(f"{url}/query", json=LEADS_BY_REGION, headers=ALL)
    assert response.status_code == 400
    assert "more than this server's limit of 1" in response.json()["detail"]


# ------------------------------------------------------------------------------------------ audit


def test_one_audit_event_per_request_with_who_but_never_the_secret(
    http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="crmwh.api.audit"):
        http.post("/query", json=LEADS_BY_REGION, headers=EMEA)
        http.post("/query", json=LEADS_BY_REGION, headers={"Authorization": "Bearer not-a-token-at-all"})
        http.post("/query", json={**LEADS_BY_REGION, "measures": ["nope"]}, headers=ALL)
        time.sleep(0.1)
    events = [r.fields for r in caplog.records if r.name == "crmwh.api.audit"]  # type: ignore[attr-defined]
    assert [(e["who"], e["status"], e["outcome"]) for e in events] == [
        ("emea", 200, "ok"),
        ("anonymous", 401, "refused"),
        ("all", 400, "refused"),
    ]
    assert events[0]["cube"] == "pipeline" and events[0]["measures"] == ["leads"]
    assert events[0]["levels"] == ["customer.region"] and events[0]["rows"] == 1
    assert all(e["duration_ms"] >= 0 for e in events)
    text = caplog.text + json.dumps(events, default=str)
    assert EMEA_TOKEN not in text and ALL_TOKEN not in text and "not-a-token" not in text


# ------------------------------------------------------------------------------------------ the command


def test_crmwh_serve_binds_localhost_and_answers(warehouse_file: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "CRMWH_CONFIG": str(tmp_path / "absent.toml"),
        "CRMWH_PATHS__WAREHOUSE_PATH": str(warehouse_file),
        "CRMWH_SERVE__PORT": str(port),
        "CRMWH_SERVE__TOKENS": json.dumps({"all": "env:T_ALL"}),
        "T_ALL": ALL_TOKEN,
    }
    program = (
        "import typer; from warehouse.serve import register; app = typer.Typer(); "
        "app.callback()(lambda: None); register(app); app()"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", program, "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "crmwh serve did not start"
                time.sleep(0.2)
        assert health.json()["status"] == "ok"
        answer = httpx.post(f"http://127.0.0.1:{port}/query", json=LEADS_BY_REGION, headers=ALL, timeout=30)
        assert by_region(answer.json()) == leads_by_region_sql(warehouse_file)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert '"who": "all"' in stderr  # the audit line, as JSON
    assert ALL_TOKEN not in stderr


# ------------------------------------------------------------------------------------------ benchmark


def test_api_benchmark_reports_throughput_and_latency(warehouse_file: Path) -> None:
    from cubes.query import Query

    queries = [
        Query("pipeline", ("leads",), rows=("date.month",)),
        Query("service", ("cases",), rows=("channel.group",)),
    ]
    report = run_api_benchmark(warehouse_file, clients=3, queries=queries, rounds=2)
    assert report["requests"] == 3 * 2 * 2 and report["failed"] == 0
    assert report["throughput_per_s"] > 0 and 0 < report["p50_ms"] <= report["p95_ms"]
