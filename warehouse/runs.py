"""Run reports of ``crmwh nightly``: ``<runs_dir>/<run_id>/`` holds report.json, summary.txt,
nightly.log and the run's dbt artefacts; the last N runs are kept.

A run writes its report when it starts (outcome ``running``) and again when it ends, so a run that
was killed leaves a report saying ``running``; the next run marks it ``killed``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from warehouse.files import write_atomic

REPORT_FILE = "report.json"
SUMMARY_FILE = "summary.txt"
LOG_FILE = "nightly.log"
RUN_ID_PATTERN = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")

OUTCOME_EXIT_CODES = {
    "success": 0,
    "success_with_warnings": 1,
    "test_failure": 3,
    "stale_source": 3,
    "error": 4,
}


def new_run_id(now: datetime | None = None) -> str:
    """Sortable by start time: ``20261116T020000Z-1a2b3c``."""
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{os.urandom(3).hex()}"


@dataclass
class StepReport:
    name: str
    status: str = "pending"  # pending, running, ok, warning, failed, skipped
    started_at: str | None = None
    duration_seconds: float | None = None
    rows_in: int | None = None
    rows_out: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    message: str | None = None


@dataclass
class RunReport:
    run_id: str
    started_at: str
    options: dict[str, Any] = field(default_factory=dict)
    outcome: str = "running"
    exit_code: int | None = None
    finished_at: str | None = None
    duration_seconds: float | None = None
    published: bool = False
    warehouse_path: str | None = None
    steps: list[StepReport] = field(default_factory=list)
    freshness: list[dict[str, Any]] = field(default_factory=list)
    ingest: dict[str, Any] = field(default_factory=dict)
    tests: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    notification: str | None = None

    def step(self, name: str) -> StepReport:
        for step in self.steps:
            if step.name == name:
                return step
        step = StepReport(name)
        self.steps.append(step)
        return step

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunReport:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["steps"] = [StepReport(**s) for s in data.get("steps", [])]
        return cls(**known)

    def summary(self) -> dict[str, Any]:
        """The short machine summary (what the webhook receives)."""
        failed = [s.name for s in self.steps if s.status == "failed"]
        return {
            "run_id": self.run_id,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "started_at": self.started_at,
            "duration_seconds": self.duration_seconds,
            "published": self.published,
            "failed_steps": failed,
            "failing_tests": self.tests.get("failing", []),
            "stale_sources": [f["source"] for f in self.freshness if f.get("status") == "error"],
            "rows_rejected": self.ingest.get("rows_rejected", 0),
            "warnings": self.warnings,
            "error": self.error,
        }

    def render(self) -> str:
        """A few lines for a person: what happened, what failed, where to look."""
        took = f"{self.duration_seconds:.1f}s" if self.duration_seconds is not None else "?"
        published = "published" if self.published else "NOT published (the previous warehouse stays live)"
        lines = [
            f"crmwh nightly {self.run_id}: {self.outcome} (exit {self.exit_code}) in {took}, {published}"
        ]
        for step in self.steps:
            seconds = f"{step.duration_seconds:.1f}s" if step.duration_seconds is not None else "-"
            rows = ""
            if step.rows_in is not None or step.rows_out is not None:
                rows = f"  rows in {step.rows_in if step.rows_in is not None else '-'}"
                rows += f" out {step.rows_out if step.rows_out is not None else '-'}"
            note = f"  {step.message}" if step.message else ""
            lines.append(f"  {step.name:<10} {step.status:<8} {seconds:>7}{rows}{note}")
        if self.tests:
            lines.append(
                f"  tests: {self.tests.get('passed', 0)} passed, {self.tests.get('warned', 0)} warned, "
                f"{self.tests.get('failed', 0)} failed"
            )
            lines += [f"  ! failing test: {name}" for name in self.tests.get("failing", [])[:20]]
        lines += [f"  ! {w}" for w in self.warnings[:20]]
        if self.error:
            lines.append(f"  ! error: {self.error}")
        if self.notification:
            lines.append(f"  notification: {self.notification}")
        return "\n".join(lines)


def write_report(run_dir: Path, report: RunReport) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(run_dir / REPORT_FILE, json.dumps(report.to_dict(), indent=2, default=str))
    if report.outcome != "running":
        write_atomic(run_dir / SUMMARY_FILE, report.render() + "\n")


def copy_artefacts(run_dir: Path, *paths: Path | None) -> list[str]:
    """Keep the run's dbt ``run_results.json`` and ``manifest.json`` with its report."""
    copied = []
    for path in paths:
        if path is not None and path.exists():
            shutil.copy2(path, run_dir / path.name)
            copied.append(path.name)
    return copied


def run_dirs(runs_dir: Path) -> list[Path]:
    """Every run's folder, oldest first."""
    if not runs_dir.is_dir():
        return []
    return sorted(p for p in runs_dir.iterdir() if p.is_dir() and RUN_ID_PATTERN.match(p.name))


def load_report(run_dir: Path) -> RunReport | None:
    path = run_dir / REPORT_FILE
    try:
        return RunReport.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def recent_runs(runs_dir: Path, limit: int | None = None) -> list[RunReport]:
    """The reports of the last runs, newest first (folders without a readable report are skipped)."""
    reports = [r for r in (load_report(d) for d in reversed(run_dirs(runs_dir))) if r is not None]
    return reports[:limit] if limit else reports


def mark_killed(runs_dir: Path, current_run_id: str) -> list[str]:
    """Reports still saying ``running`` belong to runs that died; say so. Returns their ids."""
    marked = []
    for run_dir in run_dirs(runs_dir):
        if run_dir.name == current_run_id:
            continue
        report = load_report(run_dir)
        if report is None or report.outcome != "running":
            continue
        report.outcome = "killed"
        report.error = "the run stopped without finishing (killed or crashed); nothing was published"
        for step in report.steps:
            if step.status == "running":
                step.status = "failed"
                step.message = "interrupted"
        write_report(run_dir, report)
        marked.append(run_dir.name)
    return marked


def prune(runs_dir: Path, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` run folders."""
    folders = run_dirs(runs_dir)
    doomed = folders[: max(0, len(folders) - max(keep, 1))]
    for folder in doomed:
        shutil.rmtree(folder, ignore_errors=True)
    return [f.name for f in doomed]


def age_text(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f}min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
