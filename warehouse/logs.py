"""Structured logs with timestamps: one readable line per event, or JSON lines for log shippers.

An event is a message plus named fields (``log(logger, "info", "ingest done", rows=12)``); the
human format prints the fields as ``key=value`` after the message, the JSON format as keys.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

LOGGER_NAME = "crmwh"


def _timestamp(record: logging.LogRecord) -> str:
    return (
        datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


class HumanFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "fields", {})
        extra = " ".join(f"{key}={_plain(value)}" for key, value in fields.items())
        line = f"{_timestamp(record)} {record.levelname:<7} {record.getMessage()}"
        return f"{line}  {extra}" if extra else line


class JsonLinesFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        event.update(getattr(record, "fields", {}))
        return json.dumps(event, default=str)


def _plain(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if (" " in text or not text) else text


def configure(
    json_lines: bool = False, stream: TextIO | None = None, log_file: Path | None = None
) -> logging.Logger:
    """The ``crmwh`` logger writing to ``stream`` (stderr) and, if given, appending to ``log_file``."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    formatter: logging.Formatter = JsonLinesFormatter() if json_lines else HumanFormatter()
    console = logging.StreamHandler(stream or sys.stderr)
    console.setFormatter(formatter)
    logger.addHandler(console)
    if log_file is not None:
        add_file(logger, log_file, json_lines)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def add_file(logger: logging.Logger, log_file: Path, json_lines: bool) -> None:
    """Also append the events to ``log_file`` (a run's own log, kept with its report)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(JsonLinesFormatter() if json_lines else HumanFormatter())
    logger.addHandler(handler)


def log(logger: logging.Logger, level: str, message: str, /, **fields: Any) -> None:
    present = {key: value for key, value in fields.items() if value is not None}
    logger.log(logging.getLevelName(level.upper()), message, extra={"fields": present})
