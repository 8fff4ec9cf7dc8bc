"""Configuration: crmwh.toml defaults, CRMWH_* overrides and precise errors."""

from pathlib import Path

import pytest

from warehouse.config import PROJECT_ROOT, load_settings
from warehouse.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "crmwh.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_file_loads_and_paths_resolve_under_project_root() -> None:
    settings = load_settings(PROJECT_ROOT / "crmwh.toml", env={})
    assert settings.reporting.currency == "USD"
    assert settings.warehouse_path == PROJECT_ROOT / "warehouse" / "data" / "crmwh.duckdb"
    assert settings.lake_dir.is_relative_to(PROJECT_ROOT)
    assert settings.sla.first_response_seconds["chat"] == 300
    assert settings.ingest.source_aliases["fivetran_hubspot"] == "hubspot"


def test_environment_overrides_every_kind_of_key(tmp_path: Path) -> None:
    config = write(tmp_path, '[paths]\nlake_dir = "lake"\n')
    env = {
        "CRMWH_PATHS__LAKE_DIR": "/srv/lake",
        "CRMWH_REPORTING__FISCAL_YEAR_START_MONTH": "4",
        "CRMWH_BUSINESS_HOURS__TIMEZONE": "Europe/Berlin",
        "CRMWH_BUSINESS_HOURS__WEEKDAYS": "[0, 1, 2]",
        "CRMWH_SLA__FIRST_RESPONSE_SECONDS": '{"chat": 60}',
    }
    settings = load_settings(config, env=env)
    assert settings.lake_dir == Path("/srv/lake")
    assert settings.reporting.fiscal_year_start_month == 4
    assert settings.business_hours.timezone == "Europe/Berlin"
    assert settings.business_hours.weekdays == (0, 1, 2)
    assert settings.sla.first_response_seconds == {"chat": 60}


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    config = write(tmp_path, '[paths]\nwarehouse_path = "out/wh.duckdb"\n')
    settings = load_settings(config, env={})
    assert settings.warehouse_path == (tmp_path / "out" / "wh.duckdb").resolve()


def test_toml_tables_merge_with_defaults(tmp_path: Path) -> None:
    config = write(tmp_path, "[sla.first_response_seconds]\nchat = 120\n")
    settings = load_settings(config, env={})
    assert settings.sla.first_response_seconds["chat"] == 120
    assert settings.sla.first_response_seconds["email"] == 28800


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("[reporting]\nfiscal_year_start_month = 13\n", {}, "fiscal_year_start_month"),
        ("[business_hours]\ntimezone = 'Mars/Olympus'\n", {}, "unknown time zone"),
        ("[business_hours]\nstart = '18:00'\nend = '09:00'\n", {}, "start must be before end"),
        ("[paths]\nlake = 'x'\n", {}, "unknown key(s) in [paths]: lake"),
        ("[nonsense]\n", {}, "unknown section(s): nonsense"),
        ("not = [valid", {}, "not valid TOML"),
        ("", {"CRMWH_REPORTING__FISCAL_YEAR_START_MONTH": "march"}, "expected an integer"),
    ],
)
def test_invalid_configuration_names_the_key(tmp_path: Path, text: str, env: dict, message: str) -> None:
    with pytest.raises(
        ConfigError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")
    ):
        load_settings(write(tmp_path, text), env=env)
