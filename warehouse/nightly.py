"""``crmwh nightly``: ingest, check freshness, build a new warehouse file, publish it atomically.

Readers never see a half-built warehouse: dbt and the post-build steps write into a copy of the
live file (``<warehouse>.building``), which replaces the live file with one ``rename`` only
when every step and every data test passed. Readers that opened the old file keep reading it
(POSIX rename semantics); the next connection opens the new one. A run that fails or is killed
leaves the live warehouse untouched; the next run deletes its leftovers and simply starts again
(the lake is crash-safe by itself: temp files renamed into place, the manifest record written last).

Fault hook for tests: ``CRMWH_NIGHTLY_PAUSE_AT=ingest|dbt|publish`` makes a run announce that it
reached that point by creating ``<run_dir>/paused-at-<point>``; at ``ingest`` (after the first inbox
folder landed) and ``publish`` (new file complete, live file not yet replaced) it then sleeps
``CRMWH_NIGHTLY_PAUSE_SECONDS`` (default 600) so a test can kill it there; at ``dbt`` the marker
appears once dbt has started writing the new file and the run carries on (dbt runs long enough to
be killed mid-way). Nothing else reads these variables.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from warehouse.config import NightlyConfig, Settings, load_settings
from warehouse.errors import WarehouseError
from warehouse.files import fsync_path
from warehouse.locking import LOCKED_EXIT_CODE, LockBusyError, RunLock, current_holder
from warehouse.logs import LOGGER_NAME, add_file, configure, log
from warehouse.runs import (
    LOG_FILE,
    OUTCOME_EXIT_CODES,
    RunReport,
    StepReport,
    age_text,
    copy_artefacts,
    mark_killed,
    new_run_id,
    parse_time,
    prune,
    recent_runs,
    write_report,
)

PAUSE_ENV = "CRMWH_NIGHTLY_PAUSE_AT"
PAUSE_SECONDS_ENV = "CRMWH_NIGHTLY_PAUSE_SECONDS"


class NightlyError(WarehouseError):
    """A nightly run cannot go on (its message says which step and why)."""

    exit_code = OUTCOME_EXIT_CODES["error"]


def nightly_config(settings: Settings) -> NightlyConfig:
    """The ``[nightly]`` section of the settings."""
    return settings.nightly


# --------------------------------------------------------------------------------------------- run


@dataclass
class _Run:
    settings: Settings
    config: NightlyConfig
    report: RunReport
    run_dir: Path
    logger: logging.Logger
    progress: bool
    building_path: Path | None = None

    def save(self) -> None:
        write_report(self.run_dir, self.report)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[StepReport]:
        step = self.report.step(name)
        step.status = "running"
        step.started_at = _now()
        started = time.perf_counter()
        self.save()
        log(self.logger, "info", f"{name}: started", run_id=self.report.run_id, step=name)
        try:
            yield step
        except BaseException as exc:
            step.status = "failed"
            step.message = step.message or _one_line(exc)
            raise
        finally:
            step.duration_seconds = round(time.perf_counter() - started, 2)
            if step.status == "running":
                step.status = "ok"
            level = {"failed": "error", "warning": "warning"}.get(step.status, "info")
            log(
                self.logger, level, f"{name}: {step.status}", run_id=self.report.run_id, step=name,
                seconds=step.duration_seconds, rows_in=step.rows_in, rows_out=step.rows_out,
                **({"message": step.message} if step.message else {}),
            )  # fmt: skip
            self.save()


def run_nightly(
    settings: Settings,
    *,
    full_refresh: bool = False,
    from_scratch: bool = False,
    as_of: date | None = None,
    log_json: bool = False,
    progress: bool = False,
) -> RunReport:
    """One nightly run; returns its report (``report.exit_code`` is the process exit code).

    ``full_refresh`` rebuilds the incremental models from the whole lake (snapshot history is kept);
    ``from_scratch`` starts from an empty file instead of a copy of the live one (snapshots restart
    from the lake's current state). Raises LockBusyError (exit code 75) without doing anything if
    another run holds the lock.
    """
    logger = configure(json_lines=log_json)
    config = nightly_config(settings)
    run_id = new_run_id()
    runs_dir = settings.runs_dir
    lock = RunLock(runs_dir, run_id)
    try:
        lock.acquire()
    except LockBusyError as exc:
        log(logger, "error", str(exc), run_id=run_id, exit_code=LOCKED_EXIT_CODE)
        raise
    try:
        run_dir = runs_dir / run_id
        add_file(logger, run_dir / LOG_FILE, log_json)
        report = RunReport(
            run_id=run_id,
            started_at=_now(),
            options={
                "full_refresh": full_refresh,
                "from_scratch": from_scratch,
                "as_of": as_of.isoformat() if as_of else None,
            },
            warehouse_path=str(settings.warehouse_path),
        )
        run = _Run(settings, config, report, run_dir, logger, progress)
        run.save()
        log(logger, "info", "nightly run started", run_id=run_id, pid=os.getpid(), **report.options)
        if lock.stale is not None:
            log(
                logger, "warning", "took over the lock of a run that died", run_id=run_id,
                dead_pid=lock.stale.pid, dead_run=lock.stale.run_id, dead_started=lock.stale.started_at,
                pid_reused=lock.stale_alive,
            )  # fmt: skip
        started = time.perf_counter()
        try:
            _run_steps(run, full_refresh=full_refresh, from_scratch=from_scratch, as_of=as_of)
        except Exception as exc:
            report.outcome = "error"
            report.error = _one_line(exc)
            log(logger, "error", f"run failed: {report.error}", run_id=run_id, error_type=type(exc).__name__)
        finally:
            _discard_building(run)
        report.exit_code = OUTCOME_EXIT_CODES[report.outcome]
        report.finished_at = _now()
        report.duration_seconds = round(time.perf_counter() - started, 2)
        if report.exit_code not in (0, 1):
            _notify(run)
        run.save()
        removed = prune(runs_dir, config.keep_runs)
        if removed:
            log(logger, "info", "old run reports removed", run_id=run_id, removed=len(removed))
        log(
            logger, "info", "nightly run finished", run_id=run_id, outcome=report.outcome,
            exit_code=report.exit_code, seconds=report.duration_seconds, published=report.published,
        )  # fmt: skip
        return report
    finally:
        lock.release()


def _run_steps(run: _Run, *, full_refresh: bool, from_scratch: bool, as_of: date | None) -> None:
    report = run.report
    with run.step("recover") as step:
        removed = recover(run.settings)
        killed = mark_killed(run.settings.runs_dir, report.run_id)
        step.details = {"removed": removed, "killed_runs": killed}
        if removed or killed:
            step.message = f"cleaned {len(removed)} leftover(s) of {len(killed) or 'an'} interrupted run(s)"

    with run.step("ingest") as step:
        ingest = _ingest(run)
        totals = ingest["totals"]
        step.rows_in, step.rows_out = totals["rows_read"], totals["rows_landed"]
        step.details = totals
        report.ingest = ingest
        if totals["rows_rejected"] or totals["quarantined"]:
            step.status = "warning"
            step.message = (
                f"{totals['rows_rejected']} row(s) rejected, {totals['quarantined']} file(s) quarantined"
            )
            report.warnings.append(f"ingest: {step.message} (see the lake's _rejects and _quarantine)")

    with run.step("freshness") as step:
        report.freshness = source_freshness(run.settings, run.config, ingest["files"])
        stale = [f for f in report.freshness if f["status"] == "error"]
        late = [f for f in report.freshness if f["status"] == "warn"]
        for entry in late + (stale if not run.config.freshness_error_fails else []):
            report.warnings.append(f"freshness: {entry['message']}")
        if stale and run.config.freshness_error_fails:
            step.status = "failed"
            step.message = "; ".join(f["message"] for f in stale)
            report.outcome = "stale_source"
            report.error = f"source freshness: {step.message}"
            return
        if late or stale:
            step.status = "warning"
            step.message = f"{len(late) + len(stale)} source(s) late"

    with run.step("build") as step:
        result = _build_new_file(run, full_refresh=full_refresh, from_scratch=from_scratch, as_of=as_of)
        report.tests = _test_summary(result)
        step.details = {
            "models": dict(result.models),
            "snapshots": dict(result.snapshots),
            "seeds": dict(result.seeds),
            "full_refresh": full_refresh,
            "from_scratch": from_scratch or not run.settings.warehouse_path.exists(),
            "dbt_seconds": round(result.elapsed_seconds, 2),
        }
        step.rows_in = report.ingest.get("totals", {}).get("rows_landed")
        copy_artefacts(run.run_dir, result.run_results_path, result.manifest_path)
        broken = [f for f in result.failures if not f.startswith(("test ", "unit_test "))]
        if broken:
            step.status = "failed"
            step.message = f"{len(broken)} model(s)/snapshot(s) failed: {broken[0]}"
            report.outcome = "error"
            report.error = f"dbt build: {step.message}"
            return
        if report.tests["failed"]:
            step.status = "failed"
            step.message = (
                f"{report.tests['failed']} data test(s) failed: {', '.join(report.tests['failing'][:5])}"
            )
            report.outcome = "test_failure"
            report.error = f"data tests failed, warehouse not published: {', '.join(report.tests['failing'])}"
            return
        if not result.ok:
            raise NightlyError(f"dbt build did not succeed ({result.status}); see run_results.json")
        if report.tests["warned"]:
            step.status = "warning"
            step.message = f"{report.tests['warned']} test(s) warned"
            report.warnings.append(f"dbt: {step.message}: {', '.join(report.tests['warning'][:10])}")

    with run.step("postbuild") as step:
        step.details = _postbuild(run, as_of)

    with run.step("publish") as step:
        mart_rows = publish(run, run.building_path)  # type: ignore[arg-type]
        step.rows_out = sum(mart_rows.values())
        step.details = {"mart_rows": mart_rows, "live_path": str(run.settings.warehouse_path)}
        report.published = True
        run.building_path = None

    with run.step("dashboard") as step:
        step.details = _dashboard(run)
        if step.details.get("error"):
            step.status = "warning"
            step.message = step.details["error"]
            report.warnings.append(f"dashboard: {step.message}")

    if run.settings.publish.dsn:
        with run.step("postgres") as step:
            step.details = _postgres(run)
            if step.details.get("error"):
                step.status = "warning"
                step.message = step.details["error"]
                report.warnings.append(
                    f"postgres publish: {step.message} (the previous publication stays live)"
                )
    report.outcome = "success_with_warnings" if report.warnings else "success"


def _dashboard(run: _Run) -> dict[str, Any]:
    """The dashboard of the new build, kept with the run and beside the live warehouse. A dashboard that
    cannot be drawn is a warning: the warehouse itself is already published."""
    from warehouse.report import DEFAULT_REPORT_NAME, ReportError, build_report

    live = run.settings.warehouse_path
    try:
        kept = build_report(run.settings, run.run_dir / DEFAULT_REPORT_NAME, warehouse_path=live)
    except ReportError as exc:
        return {"error": str(exc)}
    beside = live.parent / DEFAULT_REPORT_NAME
    partial = beside.with_name(f".{beside.name}.tmp")
    shutil.copyfile(kept, partial)
    os.replace(partial, beside)
    return {"path": str(beside), "bytes": beside.stat().st_size}


def _postgres(run: _Run) -> dict[str, Any]:
    """Copy the published build to PostgreSQL (`[publish] dsn`); a failure keeps the previous publication."""
    from warehouse.publish import PublishError, publish

    try:
        published = publish(
            run.settings, warehouse_path=run.settings.warehouse_path, run_id=run.report.run_id
        )
    except PublishError as exc:
        return {"error": str(exc)}
    return published.to_dict()


# ------------------------------------------------------------------------------------------- steps


def recover(settings: Settings) -> list[str]:
    """Delete what an interrupted run left behind: unpublished warehouse files and temp files.

    Runs under the nightly lock, so nothing it deletes can belong to a running nightly; a by-hand
    ``crmwh ingest`` running at the same moment would lose its temp files (and redo them next run).
    """
    live = settings.warehouse_path
    # ``.building`` and its WAL are the nightly's; ``.building-<run_id>`` files are the Dagster runs'.
    leftovers = list(live.parent.glob(f"{live.name}.building*")) if live.parent.is_dir() else []
    lake = settings.lake_dir
    if lake.is_dir():
        leftovers += [p for p in (lake / "_tmp").glob("*")] if (lake / "_tmp").is_dir() else []
        leftovers += [p for p in lake.rglob(".*.tmp") if p.is_file()]
    removed = []
    for path in leftovers:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(str(path))
    return removed


def _ingest(run: _Run) -> dict[str, Any]:
    """Ingest the inbox: its first top-level folder, then all the others in one call, so that files of
    different folders land at the same time (``ingest.files_at_once``); the same files as one
    whole-inbox call. The first folder alone gives the ``ingest`` pause point a half-ingested inbox."""
    from ingest.report import IngestReport
    from ingest.run import ingest_paths

    inbox = run.settings.inbox_dir
    if not inbox.is_dir():
        raise NightlyError(f"the inbox {inbox} does not exist (set paths.inbox_dir, or run `crmwh generate`)")
    entries = sorted(p for p in inbox.iterdir() if not p.name.startswith((".", "_")))
    whole = IngestReport()
    if entries:
        whole.files.extend(ingest_paths(run.settings, entries[:1], progress=run.progress).files)
        _pause_point(run, "ingest")
    if entries[1:]:
        whole.files.extend(ingest_paths(run.settings, entries[1:], progress=run.progress).files)
    data = whole.to_dict()
    rejected = [
        {"path": f.path, "object": f.object, "rows_rejected": f.rows_rejected, "reasons": f.top_reasons[:3]}
        for f in whole.files
        if f.rows_rejected
    ]
    quarantined = [{"path": f.path, "reason": f.message} for f in whole.quarantined]
    return {
        "totals": data["totals"],
        "rejected": rejected,
        "quarantined": quarantined,
        "rows_rejected": whole.rows_rejected,
        "files": [{"path": f.path, "source": f.source, "status": f.status} for f in whole.files],
    }


def source_freshness(
    settings: Settings, config: NightlyConfig, ingested: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Hours since each source last delivered a usable extract, against its thresholds.

    A delivery is a landed file in the lake manifest, or a file this run found in the inbox that
    was already landed (an identical re-delivery); quarantined files do not count.
    """
    from ingest.manifest import read_manifest

    now = datetime.now(UTC)
    last: dict[str, datetime] = {}

    def seen(source: str | None, when: datetime) -> None:
        if source and (source not in last or when > last[source]):
            last[source] = when

    for record in read_manifest(settings.lake_dir).values():
        finished = parse_time(record.get("finished_at"))
        if record.get("status") != "quarantined" and finished is not None:
            seen(record.get("source"), finished if finished.tzinfo else finished.replace(tzinfo=UTC))
    for entry in ingested or []:
        path = Path(entry["path"])
        if entry["status"] != "quarantined" and path.exists():
            seen(entry["source"], datetime.fromtimestamp(path.stat().st_mtime, UTC))

    results = []
    for source in sorted(set(config.freshness) | set(last)):
        rule = config.freshness.get(source, {})
        warn_after = rule.get("warn_after_hours", 0)
        error_after = rule.get("error_after_hours", 0)
        when = last.get(source)
        hours = None if when is None else round((now - when).total_seconds() / 3600, 2)
        if hours is None:
            status, message = "error", f"{source}: no extract has ever landed"
        elif error_after and hours >= error_after:
            status, message = "error", f"{source}: last extract {hours:.1f}h ago (error after {error_after}h)"
        elif warn_after and hours >= warn_after:
            status, message = "warn", f"{source}: last extract {hours:.1f}h ago (warn after {warn_after}h)"
        else:
            status, message = "pass", f"{source}: last extract {hours:.1f}h ago"
        results.append(
            {
                "source": source,
                "last_delivery": when.isoformat() if when else None,
                "hours_since": hours,
                "warn_after_hours": warn_after,
                "error_after_hours": error_after,
                "status": status,
                "message": message,
            }
        )
    return results


def _build_new_file(run: _Run, *, full_refresh: bool, from_scratch: bool, as_of: date | None) -> Any:
    from warehouse.build import build

    live = run.settings.warehouse_path
    # One path for every run: dbt-duckdb hashes the database path into the profile, and a new path
    # each night made dbt parse the whole project again instead of only what changed.
    building = live.with_name(f"{live.name}.building")
    run.building_path = building
    live.parent.mkdir(parents=True, exist_ok=True)
    if live.exists() and not from_scratch:
        shutil.copyfile(live, building)
        if Path(f"{live}.wal").exists():
            shutil.copyfile(f"{live}.wal", f"{building}.wal")
    building_settings = dataclasses.replace(
        run.settings, paths=dataclasses.replace(run.settings.paths, warehouse_path=building)
    )
    watcher = _watch_dbt_start(run, building)
    spinner = _spinner(run.progress, "dbt build (models, snapshots, tests)")
    with spinner:
        try:
            return build(building_settings, full_refresh=full_refresh, as_of=as_of)
        finally:
            watcher.set()


def _postbuild(run: _Run, as_of: date | None) -> dict[str, Any]:
    from warehouse.postbuild import finish_warehouse

    building_settings = dataclasses.replace(
        run.settings, paths=dataclasses.replace(run.settings.paths, warehouse_path=run.building_path)
    )
    with _spinner(run.progress, "lifetime value models, cube views, pre-aggregations"):
        return finish_warehouse(run.building_path, building_settings, as_of)  # type: ignore[arg-type]


def publish(run: _Run, building: Path) -> dict[str, int]:
    """Checkpoint and close the new file, make it durable, rename it onto the live path."""
    return publish_built_file(
        run.settings,
        building,
        run.report.run_id,
        run.logger,
        before_swap=lambda: _pause_point(run, "publish"),
    )


def publish_built_file(
    settings: Settings,
    building: Path,
    run_id: str,
    logger: logging.Logger | None = None,
    before_swap: Callable[[], None] | None = None,
) -> dict[str, int]:
    """Checkpoint a finished warehouse file, fsync it and rename it onto the live path (the previous
    live file is kept as a backup); returns the row count of every mart. Used by the nightly and by
    the Dagster assets. The caller holds the nightly lock."""
    import duckdb

    from warehouse.backups import replacing_live

    logger = logger or logging.getLogger(LOGGER_NAME)
    live = settings.warehouse_path
    with duckdb.connect(str(building)) as con:
        con.execute("CHECKPOINT")
        mart_rows = _mart_rows(con)
    if Path(f"{building}.wal").exists():
        raise NightlyError(
            f"{building}.wal still exists after a checkpoint; not publishing a file that needs it"
        )
    fsync_path(building)
    if before_swap is not None:
        before_swap()
    orphan = Path(f"{live}.wal")
    if orphan.exists():
        # A WAL beside the live file belongs to the old file: replayed onto the new one it would corrupt it.
        aside = orphan.with_name(f"{orphan.name}.orphaned-{run_id}")
        os.replace(orphan, aside)
        log(logger, "warning", "moved a write-ahead log of the old warehouse aside", path=str(aside))
    with replacing_live(settings, run_id):
        os.replace(building, live)
        fsync_path(live.parent)
    return mart_rows


def _mart_rows(con: Any) -> dict[str, int]:
    tables = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE schema_name LIKE '%marts' ORDER BY 1, 2"
    ).fetchall()
    return {
        f"{schema}.{table}": con.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone()[0]
        for schema, table in tables
    }


def _discard_building(run: _Run) -> None:
    """A failed run's new file is never published: delete it (the live file was never touched)."""
    if run.building_path is None:
        return
    for path in (run.building_path, Path(f"{run.building_path}.wal")):
        path.unlink(missing_ok=True)
    run.building_path = None


def _test_summary(result: Any) -> dict[str, Any]:
    """Counts of test outcomes and the names of failing and warning tests, from dbt's run_results."""
    failing: list[str] = []
    warning: list[str] = []
    path = result.run_results_path
    if path is not None and path.exists():
        for node in json.loads(path.read_text(encoding="utf-8")).get("results", []):
            unique_id = node.get("unique_id", "")
            if not unique_id.startswith(("test.", "unit_test.")):
                continue
            name = unique_id.split(".", 2)[-1]
            if node.get("status") in ("fail", "error"):
                failing.append(name)
            elif node.get("status") == "warn":
                warning.append(name)
    else:
        failing = [f.split(":", 1)[0].split(" ", 1)[-1] for f in result.failures if f.startswith("test")]
    return {
        "passed": result.tests_passed,
        "warned": result.tests_warned,
        "failed": result.tests_failed + result.tests["error"],
        "skipped": result.tests["skipped"],
        "failing": failing,
        "warning": warning,
    }


def _notify(run: _Run) -> None:
    """POST the summary to the webhook, if one is configured. Never changes the run's outcome."""
    url = run.config.webhook_url
    if not url:
        return
    body = json.dumps(run.report.summary()).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=run.config.webhook_timeout_seconds) as response:
            run.report.notification = f"sent to webhook (HTTP {response.status})"
        log(run.logger, "info", "failure notification sent", run_id=run.report.run_id, url=url)
    except Exception as exc:
        run.report.notification = f"webhook failed: {_one_line(exc)}"
        log(run.logger, "warning", "failure notification could not be sent", url=url, error=_one_line(exc))


# ----------------------------------------------------------------------------------------- helpers


def _pause_point(run: _Run, point: str) -> None:
    if os.environ.get(PAUSE_ENV) != point:
        return
    (run.run_dir / f"paused-at-{point}").touch()
    log(run.logger, "warning", f"test fault hook: pausing at {point}", run_id=run.report.run_id)
    time.sleep(float(os.environ.get(PAUSE_SECONDS_ENV, "600")))


def _watch_dbt_start(run: _Run, building: Path) -> threading.Event:
    """For the ``dbt`` fault hook: mark the moment dbt first writes the new file."""
    done = threading.Event()
    if os.environ.get(PAUSE_ENV) != "dbt":
        return done
    before = building.stat().st_mtime_ns if building.exists() else None

    def watch() -> None:
        while not done.wait(0.1):
            if building.exists() and building.stat().st_mtime_ns != before:
                (run.run_dir / "paused-at-dbt").touch()
                return

    threading.Thread(target=watch, daemon=True).start()
    return done


def _spinner(enabled: bool, text: str) -> contextlib.AbstractContextManager[Any]:
    if not enabled:
        return contextlib.nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(text)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


# ------------------------------------------------------------------------------------------ status


def status(settings: Settings, limit: int = 10) -> dict[str, Any]:
    """The last runs and the live warehouse's age, for ``crmwh status``."""
    live = settings.warehouse_path
    runs = recent_runs(settings.runs_dir, limit)
    holder = current_holder(settings.runs_dir)
    warehouse: dict[str, Any] = {"path": str(live), "exists": live.exists()}
    if live.exists():
        modified = datetime.fromtimestamp(live.stat().st_mtime, UTC)
        warehouse["built_at"] = modified.isoformat(timespec="seconds")
        warehouse["age_seconds"] = round((datetime.now(UTC) - modified).total_seconds())
        published = next((r for r in recent_runs(settings.runs_dir) if r.published), None)
        warehouse["published_by"] = published.run_id if published else None
    return {
        "warehouse": warehouse,
        "running": holder.describe() if holder else None,
        "runs": [
            {
                "run_id": r.run_id,
                "started_at": r.started_at,
                "duration_seconds": r.duration_seconds,
                "outcome": r.outcome,
                "exit_code": r.exit_code,
                "published": r.published,
                "summary": r.summary()["error"],
            }
            for r in runs
        ],
    }


def render_status(data: dict[str, Any]) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    wh = data["warehouse"]
    if wh["exists"]:
        by = f", published by run {wh['published_by']}" if wh.get("published_by") else ""
        head = f"live warehouse {wh['path']}: built {wh['built_at']} ({age_text(wh['age_seconds'])} ago){by}"
    else:
        head = f"live warehouse {wh['path']}: does not exist yet (run `crmwh nightly`)"
    parts: list[Any] = [Text(head)]
    if data["running"]:
        parts.append(Text(f"a nightly run is in progress: {data['running']}", style="yellow"))
    table = Table(title="last nightly runs", show_lines=False)
    for name, justify in (("run", "left"), ("started", "left"), ("took", "right"), ("outcome", "left"),
                          ("exit", "right"), ("published", "left")):  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    styles = {"success": "green", "success_with_warnings": "yellow", "running": "cyan"}
    for run in data["runs"]:
        took = run["duration_seconds"]
        table.add_row(
            run["run_id"], run["started_at"], f"{took:.0f}s" if took is not None else "-",
            Text(run["outcome"], style=styles.get(run["outcome"], "red")),
            "-" if run["exit_code"] is None else str(run["exit_code"]), "yes" if run["published"] else "no",
        )  # fmt: skip
    parts.append(table if data["runs"] else Text("no nightly runs recorded yet"))
    return Group(*parts)


# --------------------------------------------------------------------------------------------- CLI


def register(app: typer.Typer) -> None:
    """Add ``crmwh nightly`` and ``crmwh status`` to the CLI."""

    @app.command("nightly")
    def nightly_command(
        full_refresh: Annotated[
            bool,
            typer.Option(
                "--full-refresh",
                help="Rebuild incremental models from the whole lake (keeps snapshot history).",
            ),
        ] = False,
        from_scratch: Annotated[
            bool,
            typer.Option(
                "--from-scratch", help="Build into an empty file, not a copy of the live one (loses history)."
            ),
        ] = False,
        as_of: Annotated[
            str | None,
            typer.Option("--as-of", help="Business date of the run (YYYY-MM-DD), passed to the build."),
        ] = None,
        log_json: Annotated[bool, typer.Option("--log-json", help="Log JSON lines instead of text.")] = False,
        config: Annotated[Path | None, typer.Option("--config", help="Configuration file.")] = None,
    ) -> None:
        """Ingest the inbox, check source freshness, build a new warehouse and publish it atomically.

        Exit status: 0 success, 1 success with warnings, 3 data test or freshness failure (nothing
        published), 4 crash or other error (nothing published), 75 another run holds the lock.
        """
        try:
            as_of_day = date.fromisoformat(as_of) if as_of else None
        except ValueError:
            raise NightlyError(f"--as-of expects a date as YYYY-MM-DD, got {as_of!r}") from None
        settings = load_settings(config)
        from warehouse.audit import audited

        try:
            with audited(settings, "nightly") as audit:
                report = run_nightly(
                    settings,
                    full_refresh=full_refresh,
                    from_scratch=from_scratch,
                    as_of=as_of_day,
                    log_json=log_json,
                    progress=_interactive(),
                )
                audit.target = report.run_id
                audit.outcome = "ok" if report.exit_code in (0, 1) else "error"
                audit.details.update(
                    run_outcome=report.outcome, exit_code=report.exit_code, published=report.published,
                    rows_landed=report.ingest.get("totals", {}).get("rows_landed"),
                    full_refresh=full_refresh, from_scratch=from_scratch,
                )  # fmt: skip
        except LockBusyError as exc:
            typer.echo(f"crmwh nightly: {exc}", err=True)
            raise typer.Exit(LOCKED_EXIT_CODE) from None
        typer.echo(report.render())
        raise typer.Exit(report.exit_code)

    @app.command("status")
    def status_command(
        limit: Annotated[int, typer.Option(help="How many runs to show.")] = 10,
        as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
        config: Annotated[Path | None, typer.Option("--config", help="Configuration file.")] = None,
    ) -> None:
        """Show the last nightly runs (outcome, exit code, duration) and the age of the live warehouse."""
        data = status(load_settings(config), limit)
        if as_json:
            typer.echo(json.dumps(data, indent=2))
        else:
            from rich.console import Console

            Console().print(render_status(data))


def _interactive() -> bool:
    return sys.stderr.isatty() and os.environ.get("CI", "").lower() not in {"1", "true", "yes"}
