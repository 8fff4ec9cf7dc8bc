"""The audit trail: who did what to the warehouse, when, and how it ended, as append-only JSON lines.

One record per event at ``[privacy] audit_log_path``::

    {"at": "2026-11-16T02:00:03.120Z", "actor": "etl", "action": "nightly", "target": "20261116T020003Z-1a2b",
     "outcome": "ok", "duration_ms": 81234.5, "details": {"exit_code": 0, "rows_landed": 1200}}

``actor`` is the operating-system user of a command, or the *name* of the HTTP API token (never the token);
``outcome`` is ``ok``, ``error`` or ``denied``. Records never carry personal data: ``details`` holds counts,
names of cubes/levels and hashed identifiers only, and a failure is recorded by its error type, not its
message (a message may quote a value).

Many processes append at once (the API, a nightly, a by-hand ``crmwh ingest``): each record is one
``write`` on a file opened with ``O_APPEND`` under an exclusive ``flock``, then ``fsync``ed, so lines never
interleave and a record that was reported written survives a crash.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from warehouse.config import Settings
from warehouse.errors import WarehouseError

OUTCOMES = ("ok", "error", "denied")
COMMAND_ACTIONS = ("ingest", "build", "nightly", "forget", "publish", "restore", "verify")
_LEVEL_NAME = re.compile(r"[A-Za-z0-9_.]*")


class AuditError(WarehouseError):
    """The audit trail cannot be written (the command did nothing, or says what it did)."""


@dataclass
class AuditEvent:
    """One event being recorded; the code inside ``audited(...)`` fills in target, outcome and details
    (an outcome left unset is ``ok``, or ``error`` when the block fails or exits non-zero)."""

    action: str
    target: str | None
    actor: str
    outcome: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def current_actor() -> str:
    """The operating-system user running this process."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def audit_log_path(settings: Settings) -> Path:
    return settings.audit_log_path


def _open_for_append(path: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise AuditError(
            f"cannot write the audit trail {path} ({exc.strerror}); fix its directory's permissions or set "
            "privacy.audit_log_path"
        ) from None


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line: a single ``write`` under ``flock``, then ``fsync``."""
    data = (json.dumps(record, default=str, separators=(",", ":")) + "\n").encode()
    fd = _open_for_append(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        written = os.write(fd, data)
        if written != len(data):
            raise AuditError(
                f"the audit trail {path}: only {written} of {len(data)} bytes written (disk full?)"
            )
        os.fsync(fd)
    except OSError as exc:
        raise AuditError(f"cannot write the audit trail {path} ({exc.strerror})") from None
    finally:
        os.close(fd)


def make_record(
    action: str,
    target: str | None,
    outcome: str,
    duration_ms: float,
    details: dict[str, Any] | None = None,
    actor: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    if outcome not in OUTCOMES:
        raise ValueError(f"audit outcome {outcome!r}: expected one of {', '.join(OUTCOMES)}")
    when = at or datetime.now(UTC)
    return {
        "at": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "actor": actor or current_actor(),
        "action": action,
        "target": target,
        "outcome": outcome,
        "duration_ms": round(duration_ms, 1),
        "details": details or {},
    }


def record_event(
    settings: Settings,
    action: str,
    target: str | None,
    outcome: str,
    duration_ms: float = 0.0,
    details: dict[str, Any] | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """Write one finished event to the audit trail and return the record."""
    record = make_record(action, target, outcome, duration_ms, details, actor)
    append_record(audit_log_path(settings), record)
    return record


@contextlib.contextmanager
def audited(
    settings: Settings, action: str, target: str | None = None, actor: str | None = None
) -> Iterator[AuditEvent]:
    """Record the work inside the block as one audit event, however it ends.

    The trail is opened before the work starts, so an unwritable trail stops a command before it changes
    anything. An exception is recorded as ``error`` with its type (not its message) and re-raised; a
    ``typer.Exit``/``SystemExit`` with a non-zero code counts as ``error`` unless the block set the outcome.
    """
    path = audit_log_path(settings)
    os.close(_open_for_append(path))
    event = AuditEvent(action=action, target=target, actor=actor or current_actor())
    at = datetime.now(UTC)
    started = time.perf_counter()
    failed: BaseException | None = None
    try:
        yield event
    except BaseException as exc:
        failed = exc
        code = _exit_code(exc)
        if code is None:
            event.outcome = "error"
            event.details["error_type"] = type(exc).__name__
            exit_code = getattr(exc, "exit_code", None)
            if isinstance(exit_code, int):
                event.details.setdefault("exit_code", exit_code)
        else:
            event.details.setdefault("exit_code", code)
            if code != 0 and event.outcome is None:
                event.outcome = "error"
        raise
    finally:
        duration_ms = (time.perf_counter() - started) * 1000
        record = make_record(
            event.action, event.target, event.outcome or "ok", duration_ms, event.details, event.actor, at
        )
        try:
            append_record(path, record)
        except AuditError as exc:
            if failed is None:
                raise
            # The work already failed: its own error is the one to show; the trail's is added to stderr.
            print(f"crmwh: {exc}", file=sys.stderr)


def _exit_code(exc: BaseException) -> int | None:
    """The exit code of a deliberate exit (typer.Exit, SystemExit), None for a failure."""
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if type(exc).__name__ == "Exit" and hasattr(exc, "exit_code"):
        return int(exc.exit_code)
    return None


# ------------------------------------------------------------------------------------------ HTTP API


class ApiAuditTrail:
    """The audit trail of ``crmwh serve``: one record per HTTP request, from the request's audit fields."""

    def __init__(self, settings: Settings) -> None:
        self.path = audit_log_path(settings)
        os.close(_open_for_append(self.path))

    def write(self, fields: dict[str, Any]) -> None:
        append_record(self.path, api_record(fields))


def api_record(fields: dict[str, Any]) -> dict[str, Any]:
    """The audit record of one HTTP request from the middleware's fields (who, method, path, status, cube...).

    Filters are recorded by level only: their values are what a user looked for and may be personal data.
    """
    status = int(fields.get("status") or 500)
    outcome = "ok" if status < 400 else "denied" if status in (401, 403) else "error"
    path = str(fields.get("path") or "/")
    endpoint = path.strip("/").split("/")[0] or "root"
    details: dict[str, Any] = {
        "request_id": fields.get("request_id"),
        "method": fields.get("method"),
        "path": path if len(path) <= 200 else path[:200],
        "status": status,
    }
    for key in ("measures", "levels", "rows"):
        if fields.get(key) is not None:
            details[key] = fields[key]
    if fields.get("filter_levels") is not None:
        details["filter_levels"] = [filter_level(str(level)) for level in fields["filter_levels"]]
    return make_record(
        action=f"api.{endpoint}",
        target=fields.get("cube") or path[:200],
        outcome=outcome,
        duration_ms=float(fields.get("duration_ms") or 0.0),
        details=details,
        actor=str(fields.get("who") or "anonymous"),
    )


def filter_level(text: str) -> str:
    match = _LEVEL_NAME.match(text)
    return match.group(0)[:200] if match else ""


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every record of an audit trail (for tests and ``jq``-less inspection)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
