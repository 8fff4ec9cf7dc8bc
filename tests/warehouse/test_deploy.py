"""The shipped schedules call the project's own ``crmwh nightly`` and treat its exit codes right."""

from __future__ import annotations

import configparser
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "warehouse" / "deploy"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / name).read_text())
    return parser


def test_systemd_service_and_timer() -> None:
    service = unit("crmwh-nightly.service")["Service"]
    assert service["Type"] == "oneshot"
    assert service["ExecStart"] == "@PROJECT_DIR@/.venv/bin/crmwh nightly --log-json"
    assert service["WorkingDirectory"] == "@PROJECT_DIR@"
    assert set(service["SuccessExitStatus"].split()) == {"1", "75"}
    timer = unit("crmwh-nightly.timer")
    assert timer["Timer"]["Unit"] == "crmwh-nightly.service"
    assert timer["Timer"]["OnCalendar"] == "*-*-* 02:30:00"
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_crontab_line() -> None:
    lines = [
        line for line in (DEPLOY / "crontab").read_text().splitlines() if line and not line.startswith("#")
    ]
    assert len(lines) == 1
    minute, hour, day, month, weekday, command = lines[0].split(maxsplit=5)
    assert (minute, hour, day, month, weekday) == ("30", "2", "*", "*", "*")
    assert "cd @PROJECT_DIR@ &&" in command and ".venv/bin/crmwh nightly" in command
