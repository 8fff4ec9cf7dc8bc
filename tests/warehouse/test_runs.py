"""Run reports, retention, ``crmwh status`` data and structured logs, on hand-made run folders."""

from __future__ import annotations

import dataclasses
import io
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from warehouse.config import PathsConfig, Settings
from warehouse.logs import configure, log
from warehouse.nightly import NightlyConfig, nightly_config, recover, status
from warehouse.runs import RunReport, mark_killed, new_run_id, prune, recent_runs, run_dirs, write_report


def make_run(runs_dir: Path, started: datetime, outcome: str, exit_code: int | None, published: bool) -> str:
    run_id = new_run_id(started)
    report = RunReport(run_id=run_id, started_at=started.isoformat(), outcome=outcome, exit_code=exit_code)
    report.published = published
    report.duration_seconds = 12.5
    step = report.step("build")
    step.status = "running" if outcome == "running" else "ok"
    write_report(runs_dir / run_id, report)
    return run_id


def settings_in(tmp_path: Path) -> Settings:
    paths = PathsConfig(
        inbox_dir=tmp_path / "inbox",
        lake_dir=tmp_path / "lake",
        warehouse_path=tmp_path / "wh.duckdb",
        runs_dir=tmp_path / "runs",
    )
    return dataclasses.replace(Settings(), paths=paths)


def test_prune_keeps_the_newest_runs(tmp_path: Path) -> None:
    start = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    ids = [make_run(tmp_path, start + timedelta(days=d), "success", 0, True) for d in range(5)]
    (tmp_path / "dbt").mkdir()  # not a run folder: never pruned
    removed = prune(tmp_path, keep=3)
    assert removed == ids[:2]
    assert [p.name for p in run_dirs(tmp_path)] == ids[2:]
    assert (tmp_path / "dbt").is_dir()


def test_a_run_left_running_is_marked_killed_by_the_next(tmp_path: Path) -> None:
    start = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    dead = make_run(tmp_path, start, "running", None, False)
    done = make_run(tmp_path, start + timedelta(days=1), "success", 0, True)
    current = make_run(tmp_path, start + timedelta(days=2), "running", None, False)
    assert mark_killed(tmp_path, current) == [dead]
    reports = {r.run_id: r for r in recent_runs(tmp_path)}
    assert reports[dead].outcome == "killed" and reports[dead].steps[0].status == "failed"
    assert reports[done].outcome == "success" and reports[current].outcome == "running"
    assert "killed" in (tmp_path / dead / "summary.txt").read_text()


def test_status_shows_newest_first_and_the_age_of_the_live_warehouse(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    start = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    published = make_run(settings.runs_dir, start, "success_with_warnings", 1, True)
    failed = make_run(settings.runs_dir, start + timedelta(days=1), "test_failure", 3, False)
    settings.warehouse_path.write_bytes(b"x")
    two_hours_ago = (datetime.now(UTC) - timedelta(hours=2)).timestamp()
    os.utime(settings.warehouse_path, (two_hours_ago, two_hours_ago))
    data = status(settings)
    assert [r["run_id"] for r in data["runs"]] == [failed, published]
    assert [r["exit_code"] for r in data["runs"]] == [3, 1]
    assert data["warehouse"]["published_by"] == published
    assert abs(data["warehouse"]["age_seconds"] - 7200) < 60
    assert data["running"] is None


def test_recover_removes_unpublished_files_and_temp_files_only(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    keep = [settings.warehouse_path, settings.lake_dir / "billing" / "order" / "part.parquet"]
    doomed = [
        tmp_path / "wh.duckdb.building",
        tmp_path / "wh.duckdb.building.wal",
        tmp_path / "wh.duckdb.building-20261116T020000Z-abcdef",
        tmp_path / "wh.duckdb.building-20261116T020000Z-abcdef.wal",
        settings.lake_dir / "billing" / "order" / ".part.parquet.tmp",
        settings.lake_dir / "_manifest" / ".abc.json.tmp",
        settings.lake_dir / "_tmp" / "duckdb_x1" / "spill.bin",
    ]
    for path in keep + doomed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    recover(settings)
    assert all(p.exists() for p in keep)
    assert not any(p.exists() for p in doomed)


def test_nightly_settings_come_from_the_environment_until_the_config_file_has_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_in(tmp_path)
    if getattr(settings, "nightly", None) is not None:
        assert isinstance(nightly_config(settings).keep_runs, int)
        return
    assert nightly_config(settings) == NightlyConfig()
    monkeypatch.setenv("CRMWH_NIGHTLY__KEEP_RUNS", "3")
    assert nightly_config(settings).keep_runs == 3


def test_logs_are_json_lines_with_timestamps_or_readable_lines() -> None:
    stream = io.StringIO()
    logger = configure(json_lines=True, stream=stream)
    log(logger, "warning", "ingest: warning", run_id="r1", rows=3, skipped=None)
    event = json.loads(stream.getvalue())
    assert event["level"] == "warning" and event["msg"] == "ingest: warning" and event["rows"] == 3
    assert "skipped" not in event
    assert datetime.fromisoformat(event["ts"].replace("Z", "+00:00")).tzinfo is not None
    stream = io.StringIO()
    log(configure(json_lines=False, stream=stream), "info", "done", message="two words")
    line = stream.getvalue().strip()
    assert line.endswith('done  message="two words"') and "INFO" in line
