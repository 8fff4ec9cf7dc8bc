"""The nightly lock: one holder at a time across processes, a dead holder's lock taken over."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from warehouse.locking import LOCK_FILE, LOCKED_EXIT_CODE, LockBusyError, RunLock, current_holder

PROJECT_ROOT = Path(__file__).resolve().parents[2]
HOLD = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from warehouse.locking import RunLock\n"
    "with RunLock(Path(sys.argv[1]), 'holder-run'):\n"
    "    print('locked', flush=True)\n"
    "    time.sleep(float(sys.argv[2]))\n"
)
CLI = (
    "from warehouse.cli import app, main\n"
    "from warehouse.nightly import register\n"
    "if not any(c.name == 'nightly' for c in app.registered_commands):\n"
    "    register(app)\n"
    "main()\n"
)


def hold_lock(runs_dir: Path, seconds: float = 60) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(runs_dir), str(seconds)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "locked"
    return process


def test_a_second_holder_is_refused_with_the_first_holders_identity(tmp_path: Path) -> None:
    holder = hold_lock(tmp_path)
    try:
        with pytest.raises(LockBusyError) as refused, RunLock(tmp_path):
            pass
        assert refused.value.exit_code == LOCKED_EXIT_CODE == 75
        assert f"pid {holder.pid}" in str(refused.value) and "holder-run" in str(refused.value)
        found = current_holder(tmp_path)
        assert found is not None and found.pid == holder.pid
    finally:
        holder.kill()
        holder.wait()
    # The kernel released the dead holder's lock: it is free again, and says who died holding it.
    with RunLock(tmp_path, "next") as lock:
        assert lock.stale is not None and lock.stale.pid == holder.pid and not lock.stale_alive
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert (tmp_path / LOCK_FILE).read_text() == ""
    assert current_holder(tmp_path) is None


def test_a_cleanly_released_lock_is_not_reported_stale(tmp_path: Path) -> None:
    with RunLock(tmp_path, "first"):
        pass
    with RunLock(tmp_path, "second") as lock:
        assert lock.stale is None


def test_a_lock_file_naming_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    record = {
        "pid": dead.pid,
        "host": socket.gethostname(),
        "started_at": "2026-11-15T02:00:00+00:00",
        "run_id": "x",
    }
    (tmp_path / LOCK_FILE).write_text(json.dumps(record))
    with RunLock(tmp_path) as lock:
        assert lock.stale is not None and lock.stale.pid == dead.pid and lock.stale.run_id == "x"
        assert not lock.stale_alive


def test_processes_racing_for_the_lock_get_it_one_at_a_time(tmp_path: Path) -> None:
    racers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys, time\nfrom pathlib import Path\nfrom warehouse.locking import RunLock, LockBusyError\n"
                "try:\n    with RunLock(Path(sys.argv[1])):\n        time.sleep(2)\n    print('won')\n"
                "except LockBusyError:\n    print('lost')\n",
                str(tmp_path),
            ],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outcomes = sorted(p.communicate(timeout=60)[0].strip() for p in racers)
    assert outcomes == ["lost", "lost", "lost", "won"]


def test_nightly_exits_75_at_once_while_another_run_holds_the_lock(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    holder = hold_lock(runs_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMWH_")}
    env.update(
        CRMWH_PATHS__INBOX_DIR=str(tmp_path / "inbox"),
        CRMWH_PATHS__LAKE_DIR=str(tmp_path / "lake"),
        CRMWH_PATHS__WAREHOUSE_PATH=str(tmp_path / "wh.duckdb"),
        CRMWH_PATHS__RUNS_DIR=str(runs_dir),
    )
    try:
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-c", CLI, "nightly"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
        )
        took = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 75, result.stderr
    assert "another nightly run holds" in result.stderr and f"pid {holder.pid}" in result.stderr
    assert took < 30
    assert [p.name for p in runs_dir.iterdir()] == [LOCK_FILE]  # no run folder, no report: nothing was done
