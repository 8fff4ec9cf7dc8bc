"""``crmwh nightly`` end to end: real processes, a real DuckDB warehouse built from generated extracts.

One module fixture generates a tiny company (full extract as of 2026-11-15 plus three daily deltas)
and ingests it; a second builds and publishes the first warehouse. Every test works on its own copy.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pytest

from warehouse.generate import generate_extracts

# One worker runs the whole module, so the generated lake and the first build are made once.
pytestmark = pytest.mark.xdist_group("nightly")

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DELTA_DAYS = (date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18))
CLI = (
    "from warehouse.cli import app, main\n"
    "from warehouse.nightly import register\n"
    "if not any(c.name == 'nightly' for c in app.registered_commands):\n"
    "    register(app)\n"
    "main()\n"
)
# Counts and sums over marts a delta day changes; a reader compares them between builds.
ANSWER_SQL = """
select
    (select count(*) from marts.fct_orders),
    (select sum(amount) from marts.fct_orders),
    (select count(*) from marts.fct_interactions),
    (select count(*) from marts.dim_customer),
    (select count(*) from marts.fct_customer_months)
"""


def env_for(base: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRMWH_", "PYTEST_"))}
    env.update(
        CRMWH_PATHS__INBOX_DIR=str(base / "inbox"),
        CRMWH_PATHS__LAKE_DIR=str(base / "lake"),
        CRMWH_PATHS__WAREHOUSE_PATH=str(base / "wh.duckdb"),
        CRMWH_PATHS__RUNS_DIR=str(base / "runs"),
    )
    env.update(extra)
    return env


def crmwh(base: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CLI, *args],
        cwd=PROJECT_ROOT,
        env=env_for(base, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(base: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    process = crmwh(base, *args, **env)
    out, err = process.communicate(timeout=900)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def answer(path: Path) -> list[Any]:
    with duckdb.connect(str(path), read_only=True) as con:
        return [str(v) for v in con.execute(ANSWER_SQL).fetchone()]


def copy_base(source: Path, target: Path) -> Path:
    for name in ("inbox", "lake", "deltas", "runs"):
        if (source / name).exists():
            shutil.copytree(source / name, target / name, symlinks=True)
    if (source / "wh.duckdb").exists():
        shutil.copy2(source / "wh.duckdb", target / "wh.duckdb")
    return target


def deliver(base: Path, day: date) -> None:
    """Put the delta extract of ``day`` into the inbox, as the nightly feed would."""
    shutil.copytree(base / "deltas" / day.isoformat(), base / "inbox", dirs_exist_ok=True)


def last_report(base: Path) -> dict[str, Any]:
    reports = sorted((base / "runs").glob("*/report.json"))
    return json.loads(reports[-1].read_text())


def wait_for(pattern: str, base: Path, process: subprocess.Popen[str], timeout: float = 300) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted((base / "runs").glob(pattern))
        if found:
            return found[0]
        if process.poll() is not None:
            raise AssertionError(f"run ended before {pattern}: {process.stderr.read()[-3000:]}")  # type: ignore[union-attr]
        time.sleep(0.1)
    raise AssertionError(f"no {pattern} within {timeout}s")


def leftovers(base: Path) -> list[str]:
    found = [p.name for p in base.glob("wh.duckdb.*") if not p.name.startswith("wh.duckdb.wal.orphaned")]
    found += [str(p) for p in (base / "lake").rglob(".*.tmp")]
    return found


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Extracts of a tiny company as of 2026-11-15, landed in a lake; deltas kept aside."""
    base = tmp_path_factory.mktemp("nightly_ingested")
    generate_extracts(base / "inbox", scale="tiny", seed=7, as_of=date(2026, 11, 15), full=True)
    for day in DELTA_DAYS:
        generate_extracts(base / "deltas" / day.isoformat(), scale="tiny", seed=7, as_of=day)
    result = run(base, "ingest")
    assert result.returncode in (0, 1), result.stderr
    return base


@pytest.fixture(scope="module")
def baseline(ingested: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first nightly run over the full extract: a published warehouse."""
    base = copy_base(ingested, tmp_path_factory.mktemp("nightly_baseline"))
    result = run(base, "nightly")
    assert result.returncode in (0, 1), result.stdout + result.stderr[-3000:]
    assert (base / "wh.duckdb").exists()
    return base


def test_stale_source_fails_before_building_and_a_broken_webhook_keeps_the_exit_code(
    ingested: Path, tmp_path: Path
) -> None:
    base = copy_base(ingested, tmp_path)
    result = run(
        base,
        "nightly",
        "--log-json",
        CRMWH_NIGHTLY__FRESHNESS=json.dumps(
            {"erp": {"warn_after_hours": 1, "error_after_hours": 2}, "billing": {"warn_after_hours": 1}}
        ),
        CRMWH_NIGHTLY__WEBHOOK_URL="http://127.0.0.1:9/unreachable",
        CRMWH_NIGHTLY__WEBHOOK_TIMEOUT_SECONDS="1",
    )
    assert result.returncode == 3, result.stderr[-3000:]
    report = last_report(base)
    assert report["outcome"] == "stale_source"
    assert not report["published"] and not (base / "wh.duckdb").exists()
    freshness = {f["source"]: f for f in report["freshness"]}
    assert freshness["erp"]["status"] == "error"
    assert freshness["billing"]["status"] == "pass" and freshness["billing"]["hours_since"] < 1
    assert [s["name"] for s in report["steps"]] == ["recover", "ingest", "freshness"]
    assert report["notification"].startswith("webhook failed")
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert events and all("ts" in e and "level" in e for e in events)
    assert any(e["msg"] == "failure notification could not be sent" for e in events)
    assert "erp: no extract has ever landed" in (base / "runs" / report["run_id"] / "summary.txt").read_text()


@pytest.mark.slow
def test_readers_see_only_complete_builds_a_concurrent_run_is_locked_and_deltas_equal_a_full_refresh(
    baseline: Path, tmp_path: Path
) -> None:
    base = copy_base(baseline, tmp_path)
    live = base / "wh.duckdb"
    answers = [answer(live)]
    stop = base / "stop-reader"
    readers = [
        subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("nightly_reader.py")),
                mode,
                str(live),
                str(stop),
                ANSWER_SQL,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for mode in ("fresh", "held")
    ]
    try:
        deliver(base, DELTA_DAYS[0])
        first, second = crmwh(base, "nightly"), crmwh(base, "nightly")
        codes = sorted([first.wait(timeout=900), second.wait(timeout=900)])
        assert codes[1] == 75 and codes[0] in (0, 1), [p.stderr.read()[-2000:] for p in (first, second)]  # type: ignore[union-attr]
        locked = first if first.returncode == 75 else second
        assert "another nightly run holds" in locked.stderr.read()  # type: ignore[union-attr]
        assert len(list((base / "runs").glob("*/report.json"))) == 2  # baseline + the one that built
        answers.append(answer(live))

        deliver(base, DELTA_DAYS[1])
        assert run(base, "nightly").returncode in (0, 1)
        answers.append(answer(live))
    finally:
        stop.touch()
        outputs = [reader.communicate(timeout=120) for reader in readers]
    assert all(reader.returncode == 0 for reader in readers), [err for _, err in outputs]
    reads = [json.loads(line) for out, _ in outputs for line in out.splitlines()]
    fresh = [r for r in reads if r["kind"] == "fresh"]
    held = [r for r in reads if r["kind"] == "held"]
    assert answers[0] != answers[1] != answers[2], (
        "the deltas must change the answer, or the test proves nothing"
    )
    assert not [r for r in reads if "error" in r], [r for r in reads if "error" in r][:3]
    assert len(fresh) > 20 and len(held) > 20
    assert all(r["answer"] in answers for r in fresh)
    assert {json.dumps(r["answer"]) for r in fresh} >= {json.dumps(answers[0]), json.dumps(answers[2])}
    # A connection opened before the publication keeps reading the build it opened.
    assert all(r["answer"] == answers[0] for r in held)
    assert not leftovers(base)
    assert not Path(f"{live}.wal").exists()

    # The incremental models rebuilt over the whole lake give the same marts as the day-by-day runs
    # (on a copy of the live file, as `--full-refresh` keeps the snapshot's history).
    shutil.copy2(live, base / "full.duckdb")
    full = run(
        base,
        "nightly",
        "--full-refresh",
        CRMWH_PATHS__WAREHOUSE_PATH=str(base / "full.duckdb"),
        CRMWH_PATHS__RUNS_DIR=str(base / "runs_full"),
    )
    assert full.returncode in (0, 1), full.stderr[-3000:]
    differences = compare_marts(live, base / "full.duckdb")
    assert not differences, differences


def compare_marts(left: Path, right: Path) -> dict[str, tuple[int, int]]:
    """Rows only in the left / only in the right warehouse, per mart table (EXCEPT ALL both ways)."""
    differences = {}
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{left}' AS l (READ_ONLY)")
        con.execute(f"ATTACH '{right}' AS r (READ_ONLY)")
        tables = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'l' AND schema_name = 'marts' ORDER BY 1"
        ).fetchall()
        assert len(tables) >= 10
        for (table,) in tables:
            left_rows, right_rows = (_comparable(table, side) for side in ("l", "r"))
            only_left = con.execute(f"SELECT count(*) FROM ({left_rows} EXCEPT ALL {right_rows})").fetchone()[
                0
            ]
            only_right = con.execute(
                f"SELECT count(*) FROM ({right_rows} EXCEPT ALL {left_rows})"
            ).fetchone()[0]
            if only_left or only_right:
                differences[table] = (only_left, only_right)
    return differences


def _comparable(table: str, side: str) -> str:
    """The rows of a mart that must agree. clv_model_fits is a log, one pair of fits per build: only the
    latest build's fits are compared, without the columns that identify the run (id, time)."""
    if table == "clv_model_fits":
        return (
            f"SELECT * EXCLUDE (fit_id, fitted_at) FROM {side}.marts.clv_model_fits "
            f"WHERE fitted_at = (SELECT max(fitted_at) FROM {side}.marts.clv_model_fits)"
        )
    return f"SELECT * FROM {side}.marts.{table}"


@pytest.mark.slow
def test_runs_killed_during_ingest_dbt_and_publish_recover_without_manual_clean_up(
    baseline: Path, tmp_path: Path
) -> None:
    base = copy_base(baseline, tmp_path)
    live = base / "wh.duckdb"
    before = sha256(live)
    deliver(base, DELTA_DAYS[0])
    # Ingest moves unreadable files out of the inbox: keep the inbox as delivered for the comparison.
    clean = tmp_path / "clean"
    shutil.copytree(base / "inbox", clean / "inbox")

    for point in ("ingest", "dbt", "publish"):
        process = crmwh(base, "nightly", CRMWH_NIGHTLY_PAUSE_AT=point)
        wait_for(f"*/paused-at-{point}", base, process)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert sha256(live) == before, f"killed at {point}: the live warehouse changed"
        assert answer(live)  # still opens and answers
        for record in (base / "lake" / "_manifest").glob("*.json"):
            landed = json.loads(record.read_text()).get("landed_path")
            assert landed is None or Path(landed).exists(), record
    assert (base / "wh.duckdb.building").exists(), "the publish kill should leave its new file"

    result = run(base, "nightly")
    assert result.returncode in (0, 1), result.stderr[-3000:]
    assert "took over the lock of a run that died" in result.stderr
    report = last_report(base)
    assert report["published"]
    recover = report["steps"][0]
    assert (
        recover["name"] == "recover" and len(recover["details"]["killed_runs"]) == 1
    )  # each kill was recovered by the next run
    assert any(p.endswith("wh.duckdb.building") for p in recover["details"]["removed"])
    killed = [r for r in map(json.loads, map(Path.read_text, (base / "runs").glob("*/report.json")))
              if r["outcome"] == "killed"]  # fmt: skip
    assert len(killed) == 3
    assert sha256(live) != before and not leftovers(base)

    # The lake holds exactly what one uninterrupted ingest of the same inbox lands.
    assert run(clean, "ingest").returncode in (0, 1)
    assert sorted(p.name for p in (base / "lake" / "_manifest").glob("*.json")) == sorted(
        p.name for p in (clean / "lake" / "_manifest").glob("*.json")
    )
    parquet = sorted(str(p.relative_to(base / "lake")) for p in (base / "lake").rglob("*.parquet"))
    assert parquet == sorted(str(p.relative_to(clean / "lake")) for p in (clean / "lake").rglob("*.parquet"))


class _Hook(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.mark.slow
def test_a_failing_data_test_keeps_yesterdays_warehouse_and_names_the_test(
    baseline: Path, tmp_path: Path
) -> None:
    base = copy_base(baseline, tmp_path)
    live = base / "wh.duckdb"
    before = sha256(live)
    # An open opportunity re-delivered with a probability of 250 %: fct_opportunities' range test fails.
    lines = (base / "inbox" / "salesforce" / "Opportunity.csv").read_text().splitlines()
    header = lines[0].split(",")
    opened = next(line for line in lines[1:] if '"false","false"' in line).split(",")
    opened[header.index('"Probability"')] = '"250"'
    for column in ('"LastModifiedDate"', '"SystemModstamp"'):
        opened[header.index(column)] = '"2026-11-16T08:00:00.000Z"'
    (base / "inbox" / "salesforce" / "Opportunity_2026-11-16.csv").write_text(
        lines[0] + "\n" + ",".join(opened) + "\n"
    )

    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = run(
            base, "nightly", CRMWH_NIGHTLY__WEBHOOK_URL=f"http://127.0.0.1:{server.server_port}/hook"
        )
    finally:
        server.shutdown()
    assert result.returncode == 3, result.stdout + result.stderr[-3000:]
    assert sha256(live) == before
    report = last_report(base)
    assert report["outcome"] == "test_failure" and not report["published"]
    failing = report["tests"]["failing"]
    assert any("expression_is_true_fct_opportunities" in name for name in failing), failing
    assert report["tests"]["passed"] > 100
    run_dir = base / "runs" / report["run_id"]
    assert (run_dir / "run_results.json").exists() and (run_dir / "manifest.json").exists()
    assert "failing test: " in (run_dir / "summary.txt").read_text()
    assert failing[0] in result.stdout
    assert _Hook.received and _Hook.received[-1]["outcome"] == "test_failure"
    assert _Hook.received[-1]["failing_tests"] == failing
    assert not leftovers(base)

    status = run(base, "status", "--json")
    data = json.loads(status.stdout)
    assert data["runs"][0]["outcome"] == "test_failure" and data["runs"][0]["exit_code"] == 3
    assert data["warehouse"]["published_by"] == data["runs"][1]["run_id"]
