"""The crmwh command line: every command explains itself, errors are one readable line."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from warehouse.config import PROJECT_ROOT

CRMWH = [sys.executable, "-m", "warehouse.cli"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CRMWH, *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "CI": "true", **(env or {})},
        timeout=120,
    )


def test_top_level_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("generate", "ingest"):
        assert command in result.stdout


@pytest.mark.parametrize("command", ["generate", "ingest"])
def test_every_command_has_help(command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout
    assert len(result.stdout.splitlines()) > 5


def test_bad_configuration_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    config = tmp_path / "crmwh.toml"
    config.write_text("[business_hours]\ntimezone = 'Nowhere/Land'\n", encoding="utf-8")
    result = run("ingest", "--config", str(config))
    assert result.returncode == 2
    assert "unknown time zone" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
