"""One nightly run at a time: an exclusive ``flock`` on ``<runs_dir>/nightly.lock``.

The kernel drops a ``flock`` when its holder dies, however it dies, so a lock can never stay taken
by a dead process. The file also holds the holder's pid, host and start time, written when the lock
is taken and cleared when it is released: a file that still names a holder while the lock is free
was left by a run that was killed, and the next run says so in its log when it takes over.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from warehouse.errors import WarehouseError

LOCK_FILE = "nightly.lock"
LOCKED_EXIT_CODE = 75  # EX_TEMPFAIL: try again later


class LockBusyError(WarehouseError):
    """Another nightly run holds the lock."""

    exit_code = LOCKED_EXIT_CODE


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    started_at: str
    run_id: str | None = None

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        try:
            data = json.loads(text)
            return cls(int(data["pid"]), str(data["host"]), str(data["started_at"]), data.get("run_id"))
        except (ValueError, KeyError, TypeError):
            return None

    def describe(self) -> str:
        run = f", run {self.run_id}" if self.run_id else ""
        return f"pid {self.pid} on {self.host}, started {self.started_at}{run}"

    def is_alive(self) -> bool:
        """Whether the holder's process still exists (only knowable on the same host)."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


class RunLock:
    """``with RunLock(runs_dir, run_id) as lock:`` -- raises LockBusyError if another run holds it.

    ``lock.stale`` names the holder a killed run left behind, if any (its lock was already free).
    """

    def __init__(self, runs_dir: Path, run_id: str | None = None) -> None:
        self.path = runs_dir / LOCK_FILE
        self.run_id = run_id
        self.stale: Holder | None = None
        self.stale_alive = False
        self._handle: IO[str] | None = None

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = Holder.parse(handle.read())
            handle.close()
            who = holder.describe() if holder else "another process"
            raise LockBusyError(
                f"another nightly run holds {self.path} ({who}); this run did nothing. "
                "Wait for it to finish (see `crmwh status`)"
            ) from None
        handle.seek(0)
        self.stale = Holder.parse(handle.read())
        # A live process named in a free lock is a recycled pid, not the run that wrote it.
        self.stale_alive = bool(self.stale and self.stale.is_alive())
        self._write(handle, self._holder_record())
        self._handle = handle
        return self

    def _holder_record(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "run_id": self.run_id,
        }

    @staticmethod
    def _write(handle: IO[str], record: dict[str, Any] | None) -> None:
        handle.seek(0)
        handle.truncate()
        if record is not None:
            handle.write(json.dumps(record))
        handle.flush()
        os.fsync(handle.fileno())

    def release(self) -> None:
        if self._handle is None:
            return
        with contextlib.suppress(OSError):
            self._write(self._handle, None)
        fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
        self._handle.close()
        self._handle = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def current_holder(runs_dir: Path) -> Holder | None:
    """Who holds the lock now, or None if it is free (for ``crmwh status``)."""
    path = runs_dir / LOCK_FILE
    if not path.exists():
        return None
    with path.open("r", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return Holder.parse(path.read_text(encoding="utf-8")) or Holder(0, "?", "?")
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return None
