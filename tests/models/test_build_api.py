"""build() and `crmwh build` refuse what they cannot do with a message a user can act on."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.models.conftest import settings_for
from tests.models.lake import write_lake
from warehouse.build import BuildError, build, dbt_vars, register


def test_missing_lake_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="run `crmwh ingest` first"):
        build(settings_for(tmp_path))


def test_lake_missing_one_object_names_it(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    write_lake(settings.lake_dir, {})
    for stale in (settings.lake_dir / "billing" / "order").glob("*.parquet"):
        stale.unlink()
    with pytest.raises(BuildError, match="billing/order"):
        build(settings)


def test_unknown_target_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="unknown build target 'snowflake'"):
        build(settings_for(tmp_path), target="snowflake")


def test_vars_come_from_the_settings(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    variables = dbt_vars(settings)
    assert variables["lake_dir"] == str(tmp_path / "lake")
    assert variables["business_weekdays"] == [0, 1, 2, 3, 4]
    assert variables["business_timezone"] == "America/New_York"
    assert variables["sla_first_response_seconds"]["phone"] == 300
    assert variables["as_of_date"] is None


def test_register_adds_the_build_command(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)

    @app.command()
    def other() -> None:
        """A second command so typer keeps subcommand names."""

    result = CliRunner().invoke(app, ["build", "--help"])
    assert result.exit_code == 0
    for option in ("--full-refresh", "--as-of", "--select", "--target"):
        assert option in result.output
    bad = CliRunner().invoke(app, ["build", "--as-of", "yesterday"])
    assert isinstance(bad.exception, BuildError)
