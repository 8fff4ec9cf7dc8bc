"""The audit trail: one JSON line per event, safe for many writers, written by the commands that change data and
by every HTTP API request (denials included), never with a token or a searched-for value in it."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from tests.warehouse.test_api import ALL, ALL_TOKEN, TOKEN_ENV, make_warehouse, settings_for
from warehouse.api import create_app
from warehouse.audit import AuditError, append_record, audited, current_actor, read_records
from warehouse.cli import app
from warehouse.config import PathsConfig, PrivacyConfig, Settings
from warehouse.serve import running_server

WRITERS = 4
RECORDS_PER_WRITER = 150


def audit_settings(tmp_path: Path) -> Settings:
    return Settings(
        root=tmp_path,
        paths=PathsConfig(
            inbox_dir=tmp_path / "inbox",
            lake_dir=tmp_path / "lake",
            warehouse_path=tmp_path / "wh.duckdb",
            runs_dir=tmp_path / "runs",
        ),
        privacy=PrivacyConfig(audit_log_path=tmp_path / "audit" / "audit.jsonl"),
    )


def _append_many(path: str, writer: int) -> None:
    for index in range(RECORDS_PER_WRITER):
        # Long enough that an unsynchronised writer would interleave lines.
        append_record(Path(path), {"writer": writer, "index": index, "pad": "x" * 5000})


def test_concurrent_writers_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_append_many, args=(str(path), w)) for w in range(WRITERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    records = read_records(path)
    assert len(records) == WRITERS * RECORDS_PER_WRITER
    assert {(r["writer"], r["index"]) for r in records} == {
        (w, i) for w in range(WRITERS) for i in range(RECORDS_PER_WRITER)
    }
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_audited_records_success_failure_and_exit_codes(tmp_path: Path) -> None:
    settings = audit_settings(tmp_path)
    with audited(settings, "build", "wh.duckdb") as event:
        event.details["models"] = 3
    with pytest.raises(RuntimeError), audited(settings, "publish", "wh.duckdb"):
        raise RuntimeError("secret-looking message alice@example.com")
    with pytest.raises(typer.Exit), audited(settings, "ingest", "inbox"):
        raise typer.Exit(1)
    with pytest.raises(typer.Exit), audited(settings, "ingest", "inbox") as event:
        event.outcome = "ok"
        raise typer.Exit(1)

    records = read_records(settings.audit_log_path)
    assert [(r["action"], r["outcome"]) for r in records] == [
        ("build", "ok"),
        ("publish", "error"),
        ("ingest", "error"),
        ("ingest", "ok"),
    ]
    assert records[0]["details"] == {"models": 3}
    assert records[0]["actor"] == current_actor() != ""
    assert records[1]["details"] == {"error_type": "RuntimeError"}
    assert records[2]["details"] == {"exit_code": 1}
    assert all(r["at"].endswith("Z") and r["duration_ms"] >= 0 for r in records)
    assert "alice@example.com" not in settings.audit_log_path.read_text()


def test_an_unwritable_trail_stops_the_command_before_it_starts(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings = dataclasses.replace(
        audit_settings(tmp_path), privacy=PrivacyConfig(audit_log_path=blocker / "audit.jsonl")
    )
    ran = []
    with pytest.raises(AuditError, match="cannot write the audit trail"), audited(settings, "build"):
        ran.append(True)
    assert ran == []


def test_ingest_command_is_audited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    audit_log = tmp_path / "audit.jsonl"
    (tmp_path / "inbox").mkdir()
    for key, value in {
        "INBOX_DIR": tmp_path / "inbox",
        "LAKE_DIR": tmp_path / "lake",
        "WAREHOUSE_PATH": tmp_path / "wh.duckdb",
        "RUNS_DIR": tmp_path / "runs",
    }.items():
        monkeypatch.setenv(f"CRMWH_PATHS__{key}", str(value))
    monkeypatch.setenv("CRMWH_PRIVACY__AUDIT_LOG_PATH", str(audit_log))
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", "--json"]).exit_code == 0
    missing = runner.invoke(app, ["ingest", str(tmp_path / "no-such-extract.csv")])
    assert missing.exit_code != 0

    records = read_records(audit_log)
    assert [(r["action"], r["target"], r["outcome"]) for r in records] == [
        ("ingest", "inbox", "ok"),
        ("ingest", "no-such-extract.csv", "error"),
    ]
    assert records[0]["details"]["rows_read"] == 0 and records[0]["details"]["exit_code"] == 0
    assert records[1]["details"]["error_type"] == "IngestError"


def test_every_api_request_is_audited_by_token_name_without_secrets_or_filter_values(tmp_path: Path) -> None:
    warehouse = make_warehouse(tmp_path / "wh.duckdb")
    audit_log = tmp_path / "audit.jsonl"
    settings = dataclasses.replace(settings_for(warehouse), privacy=PrivacyConfig(audit_log_path=audit_log))
    searched = "someone.private@example.org"
    with (
        running_server(create_app(settings, env=TOKEN_ENV)) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        assert http.get("/cubes").status_code == 401
        assert (
            http.get("/cubes", headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
        )
        assert http.get("/cubes", headers=ALL).status_code == 200
        query = {
            "cube": "pipeline",
            "measures": ["leads"],
            "rows": ["customer.region"],
            "filters": [f"customer.region={searched}"],
        }
        assert http.post("/query", json=query, headers=ALL).status_code == 200
        assert http.post("/query", json={**query, "cube": "nope"}, headers=ALL).status_code == 400

    text = audit_log.read_text(encoding="utf-8")
    records = [json.loads(line) for line in text.splitlines()]
    assert [(r["action"], r["actor"], r["outcome"], r["details"]["status"]) for r in records] == [
        ("api.cubes", "anonymous", "denied", 401),
        ("api.cubes", "anonymous", "denied", 401),
        ("api.cubes", "all", "ok", 200),
        ("api.query", "all", "ok", 200),
        ("api.query", "all", "error", 400),
    ]
    assert records[3]["target"] == "pipeline"
    assert records[3]["details"]["filter_levels"] == ["customer.region"]
    assert records[3]["details"]["measures"] == ["leads"]
    assert ALL_TOKEN not in text and "wrong-token" not in text
    assert searched not in text


def test_build_and_publish_commands_are_audited_when_they_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit_log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("CRMWH_PATHS__LAKE_DIR", str(tmp_path / "empty-lake"))
    monkeypatch.setenv("CRMWH_PATHS__WAREHOUSE_PATH", str(tmp_path / "wh.duckdb"))
    monkeypatch.setenv("CRMWH_PATHS__RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("CRMWH_PRIVACY__AUDIT_LOG_PATH", str(audit_log))
    monkeypatch.setenv("CRMWH_PUBLISH__DSN", "")
    runner = CliRunner()
    assert runner.invoke(app, ["build"]).exit_code != 0
    assert runner.invoke(app, ["publish"]).exit_code != 0
    records = read_records(audit_log)
    assert [(r["action"], r["target"], r["outcome"], r["details"]["error_type"]) for r in records] == [
        ("build", "wh.duckdb", "error", "BuildError"),
        ("publish", "wh.duckdb", "error", "PublishError"),
    ]
