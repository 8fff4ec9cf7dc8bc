"""One configuration home: ``crmwh.toml`` at the project root, every key overridable by
``CRMWH_<SECTION>__<KEY>`` environment variables.

The file is optional; the defaults below are what the shipped ``crmwh.toml`` says too.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from warehouse.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "CRMWH_"


@dataclass(frozen=True)
class PathsConfig:
    inbox_dir: Path = Path("warehouse/data/inbox")
    lake_dir: Path = Path("warehouse/data/lake")
    warehouse_path: Path = Path("warehouse/data/crmwh.duckdb")
    runs_dir: Path = Path("warehouse/data/runs")


@dataclass(frozen=True)
class ReportingConfig:
    currency: str = "USD"
    fiscal_year_start_month: int = 2


@dataclass(frozen=True)
class BusinessHoursConfig:
    timezone: str = "America/New_York"
    start: str = "09:00"
    end: str = "17:00"
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    country_holidays: str = "US"

    @property
    def start_time(self) -> time:
        return time.fromisoformat(self.start)

    @property
    def end_time(self) -> time:
        return time.fromisoformat(self.end)


@dataclass(frozen=True)
class SlaConfig:
    default_first_response_seconds: int = 28800
    first_response_seconds: dict[str, int] = field(
        default_factory=lambda: {
            "email": 28800,
            "phone": 300,
            "chat": 300,
            "sms": 3600,
            "social": 7200,
            "web": 14400,
        }
    )


@dataclass(frozen=True)
class LifetimeValueConfig:
    time_unit: str = "week"
    horizon_days: int = 365


def _default_freshness() -> dict[str, dict[str, int]]:
    sources = ("salesforce", "hubspot", "billing", "contact_center")
    return {source: {"warn_after_hours": 26, "error_after_hours": 50} for source in sources}


@dataclass(frozen=True)
class NightlyConfig:
    """``crmwh nightly``. Freshness hours are whole numbers; 0 disables a threshold."""

    keep_runs: int = 14
    webhook_url: str = ""
    webhook_timeout_seconds: int = 5
    freshness_error_fails: bool = True
    freshness: dict[str, dict[str, int]] = field(default_factory=_default_freshness)


@dataclass(frozen=True)
class IngestConfig:
    # Rows per Parquet row group of the lake: DuckDB's own default, so that writing (and every later
    # read) runs one row group per thread; 500,000 made a 300k-row extract one single-threaded group.
    batch_rows: int = 122_880
    memory_limit: str = "2GB"
    # DuckDB threads of the whole ingest (0: all cores), shared like memory_limit by the files at once.
    threads: int = 0
    # Files landed at the same time, each on its own DuckDB connection with its share of memory_limit:
    # one file's statements keep barely more than one core busy (measured 1.15 cores on 2).
    files_at_once: int = 2
    source_aliases: dict[str, str] = field(
        default_factory=lambda: {
            "salesforce": "salesforce",
            "fivetran_salesforce": "salesforce",
            "hubspot": "hubspot",
            "fivetran_hubspot": "hubspot",
            "billing": "billing",
            "contact_center": "contact_center",
        }
    )


@dataclass(frozen=True)
class ServeConfig:
    """``crmwh serve``: the HTTP cube API. Token secrets live in the environment or in 0600 files only:
    ``tokens`` maps a token name to ``env:VARIABLE`` or ``file:/path``; ``token_regions`` restricts a token
    to one ``customer.region``."""

    host: str = "127.0.0.1"
    port: int = 8765
    max_body_bytes: int = 65536
    query_timeout_ms: int = 30000
    max_concurrent_queries: int = 4
    max_queued_requests: int = 64
    max_result_rows: int = 100_000
    tokens: dict[str, str] = field(default_factory=dict)
    token_regions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PublishConfig:
    """``crmwh publish``: copy the marts and cube views into PostgreSQL. ``dsn`` is a libpq connection
    string without a password; secrets (``password``, ``role_passwords``) are ``env:VARIABLE`` or
    ``file:/path`` (a file readable by its owner only). Empty ``password``: libpq's PGPASSWORD/~/.pgpass."""

    dsn: str = ""
    password: str = ""
    owner_role: str = "crmwh_owner"
    analyst_roles: tuple[str, ...] = ("crmwh_analyst",)
    cube_roles: tuple[str, ...] = ("crmwh_bi",)
    region_roles: dict[str, str] = field(default_factory=lambda: {"crmwh_region_emea": "EMEA"})
    role_passwords: dict[str, str] = field(default_factory=dict)
    role_statement_timeout_seconds: int = 300
    lock_timeout_seconds: int = 60
    batch_rows: int = 100_000


@dataclass(frozen=True)
class PrivacyConfig:
    """Personal data: who sees it in clear, the salt of the stable hashes everyone else sees, where erasure
    tombstones and the audit trail live. ``hash_salt`` is ``env:VARIABLE`` or ``file:/path``; empty: a random
    salt created once in ``salt_path`` (mode 0600). Empty paths sit beside the data they belong to: the salt
    and the audit trail in the warehouse's folder, the tombstones in the lake (``Settings.salt_path`` ...)."""

    hash_salt: str = ""
    salt_path: str | Path = ""
    clear_roles: tuple[str, ...] = ("crmwh_analyst",)
    clear_tokens: tuple[str, ...] = ()
    tombstones_path: str | Path = ""
    audit_log_path: str | Path = ""


@dataclass(frozen=True)
class BackupsConfig:
    """Each successful nightly keeps the previous ``keep`` warehouse files (and the lake manifest) in
    ``backups_dir`` (empty: ``backups/`` beside the live warehouse file)."""

    keep: int = 7
    backups_dir: str | Path = ""


@dataclass(frozen=True)
class Settings:
    root: Path = PROJECT_ROOT
    paths: PathsConfig = field(default_factory=PathsConfig)
    reporting: ReportingConfig = field(default_factory=ReportingConfig)
    business_hours: BusinessHoursConfig = field(default_factory=BusinessHoursConfig)
    sla: SlaConfig = field(default_factory=SlaConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    lifetime_value: LifetimeValueConfig = field(default_factory=LifetimeValueConfig)
    nightly: NightlyConfig = field(default_factory=NightlyConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    publish: PublishConfig = field(default_factory=PublishConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    backups: BackupsConfig = field(default_factory=BackupsConfig)

    def resolve(self, path: Path) -> Path:
        """An absolute path: relative config paths are relative to the project root."""
        return path if path.is_absolute() else (self.root / path).resolve()

    @property
    def inbox_dir(self) -> Path:
        return self.resolve(self.paths.inbox_dir)

    @property
    def lake_dir(self) -> Path:
        return self.resolve(self.paths.lake_dir)

    @property
    def warehouse_path(self) -> Path:
        return self.resolve(self.paths.warehouse_path)

    @property
    def runs_dir(self) -> Path:
        return self.resolve(self.paths.runs_dir)

    def _configured_or(self, configured: str | Path, default: Path) -> Path:
        if isinstance(configured, Path) or configured.strip():
            return self.resolve(Path(configured))
        return default

    @property
    def salt_path(self) -> Path:
        return self._configured_or(self.privacy.salt_path, self.warehouse_path.parent / "privacy" / "salt")

    @property
    def tombstones_path(self) -> Path:
        return self._configured_or(
            self.privacy.tombstones_path, self.lake_dir / "_privacy" / "tombstones.jsonl"
        )

    @property
    def audit_log_path(self) -> Path:
        return self._configured_or(
            self.privacy.audit_log_path, self.warehouse_path.parent / "audit" / "audit.jsonl"
        )

    @property
    def backups_dir(self) -> Path:
        return self._configured_or(self.backups.backups_dir, self.warehouse_path.parent / "backups")


def _coerce(value: Any, target: Any, key: str) -> Any:
    """Convert a TOML or environment value to the type of the default it replaces."""
    if isinstance(target, bool):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{key}: expected true/false, got {value!r}")
    if isinstance(target, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected an integer, got {value!r}") from None
    if isinstance(target, Path):
        return Path(str(value))
    if isinstance(target, tuple):
        if isinstance(value, str):
            value = json.loads(value) if value.strip().startswith("[") else value.split(",")
        return tuple(_coerce(v, target[0] if target else "", key) for v in value)
    if isinstance(target, dict):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ConfigError(f"{key}: expected a JSON object, got {value!r}") from None
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table, got {value!r}")
        sample = next(iter(target.values()), "")
        return {str(k): _coerce(v, sample, f"{key}.{k}") for k, v in value.items()}
    return str(value)


def _build(cls: type, data: dict[str, Any], env: dict[str, str], prefix: str) -> Any:
    defaults = cls()
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(
            f"unknown key(s) in [{prefix.lower().rstrip('_') or 'root'}]: {', '.join(sorted(unknown))}"
        )
    values: dict[str, Any] = {}
    for f in fields(cls):
        default = getattr(defaults, f.name)
        env_key = f"{ENV_PREFIX}{prefix}{f.name.upper()}"
        if is_dataclass(default):
            section = data.get(f.name, {})
            if not isinstance(section, dict):
                raise ConfigError(f"[{f.name}] must be a table")
            values[f.name] = _build(type(default), section, env, f"{f.name.upper()}__")
            continue
        value = data.get(f.name, default)
        if env_key in env:
            value = env[env_key]
        if isinstance(default, dict) and f.name in data and isinstance(data[f.name], dict):
            merged = dict(default)
            merged.update(data[f.name])
            value = merged if env_key not in env else value
        values[f.name] = _coerce(value, default, f"{prefix.lower()}{f.name}")
    return cls(**values)


def load_settings(config_path: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Load ``crmwh.toml`` (or ``$CRMWH_CONFIG``) and apply ``CRMWH_*`` overrides."""
    env = dict(os.environ if env is None else env)
    if config_path is None:
        config_path = Path(env.get("CRMWH_CONFIG", PROJECT_ROOT / "crmwh.toml"))
    data: dict[str, Any] = {}
    if config_path.exists():
        try:
            data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path}: not valid TOML ({exc})") from None
    root = Path(env.get("CRMWH_ROOT", config_path.parent if config_path.exists() else PROJECT_ROOT))
    sections = {k: v for k, v in data.items()}
    settings = Settings(
        root=root.resolve(),
        **{
            f.name: _build(
                type(getattr(Settings(), f.name)), sections.get(f.name, {}), env, f"{f.name.upper()}__"
            )
            for f in fields(Settings)
            if f.name != "root"
        },
    )
    unknown = set(sections) - {f.name for f in fields(Settings)}
    if unknown:
        raise ConfigError(f"{config_path}: unknown section(s): {', '.join(sorted(unknown))}")
    _validate(settings)
    return settings


def _validate(settings: Settings) -> None:
    bh = settings.business_hours
    try:
        ZoneInfo(bh.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"business_hours.timezone: unknown time zone {bh.timezone!r}") from None
    try:
        if bh.start_time >= bh.end_time:
            raise ConfigError("business_hours: start must be before end")
    except ValueError:
        raise ConfigError("business_hours.start/end: expected HH:MM") from None
    if not set(bh.weekdays) <= set(range(7)):
        raise ConfigError("business_hours.weekdays: days are 0 (Monday) to 6 (Sunday)")
    if not 1 <= settings.reporting.fiscal_year_start_month <= 12:
        raise ConfigError("reporting.fiscal_year_start_month: expected 1..12")
    if settings.lifetime_value.time_unit not in {"day", "week"}:
        raise ConfigError("lifetime_value.time_unit: expected day or week")
    if len(settings.reporting.currency) != 3:
        raise ConfigError("reporting.currency: expected an ISO-4217 code such as USD")
    _validate_serve(settings.serve)
    _validate_publish(settings.publish)
    _validate_privacy(settings)


def _validate_serve(serve: ServeConfig) -> None:
    if not serve.host.strip():
        raise ConfigError("serve.host: expected an address to bind, such as 127.0.0.1")
    if not 1 <= serve.port <= 65535:
        raise ConfigError("serve.port: expected 1..65535")
    for key in ("max_body_bytes", "query_timeout_ms", "max_concurrent_queries", "max_queued_requests",
                "max_result_rows"):  # fmt: skip
        if getattr(serve, key) < 1:
            raise ConfigError(f"serve.{key}: expected a positive whole number")
    for name, source in serve.tokens.items():
        kind, _, where = source.partition(":")
        if kind not in ("env", "file") or not where.strip():
            raise ConfigError(
                f"serve.tokens.{name}: expected env:VARIABLE or file:/path/to/secret "
                "(the token itself never goes into the configuration)"
            )
    unknown = set(serve.token_regions) - set(serve.tokens)
    if unknown:
        raise ConfigError(f"serve.token_regions: no token named {', '.join(sorted(unknown))} in serve.tokens")


def _validate_publish(publish: PublishConfig) -> None:
    import re

    role_name = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
    if re.search(r"(^|\s)password\s*=|://[^/@]*:[^/@]*@", publish.dsn):
        raise ConfigError(
            "publish.dsn: remove the password from the connection string; set publish.password to "
            "env:VARIABLE or file:/path, or use PGPASSWORD / ~/.pgpass"
        )
    roles = [publish.owner_role, *publish.analyst_roles, *publish.cube_roles, *publish.region_roles]
    for role in roles:
        if not role_name.match(role):
            raise ConfigError(f"publish: role name {role!r}: use lower-case letters, digits and _ (max 63)")
    if len(set(roles)) != len(roles):
        raise ConfigError(
            "publish: a role is listed twice (owner_role, analyst_roles, cube_roles, region_roles)"
        )
    for role, regions in publish.region_roles.items():
        if not [r for r in regions.split(",") if r.strip()]:
            raise ConfigError(f"publish.region_roles.{role}: expected a region such as EMEA (or EMEA,APAC)")
    for name, source in {"password": publish.password, **publish.role_passwords}.items():
        if name == "password" and not source:
            continue
        kind, _, where = source.partition(":")
        if kind not in ("env", "file") or not where.strip():
            raise ConfigError(
                f"publish.{'role_passwords.' if name != 'password' else ''}{name}: expected env:VARIABLE or "
                "file:/path/to/secret (the password itself never goes into the configuration)"
            )
    unknown = set(publish.role_passwords) - set(roles[1:])
    if unknown:
        raise ConfigError(f"publish.role_passwords: no role named {', '.join(sorted(unknown))}")
    for key in ("role_statement_timeout_seconds", "lock_timeout_seconds", "batch_rows"):
        if getattr(publish, key) < 1:
            raise ConfigError(f"publish.{key}: expected a positive whole number")


def _validate_privacy(settings: Settings) -> None:
    privacy = settings.privacy
    if privacy.hash_salt:
        kind, _, where = privacy.hash_salt.partition(":")
        if kind not in ("env", "file") or not where.strip():
            raise ConfigError(
                "privacy.hash_salt: expected env:VARIABLE or file:/path/to/secret "
                "(the salt itself never goes into the configuration), or empty for a generated one"
            )
    unknown_tokens = set(privacy.clear_tokens) - set(settings.serve.tokens)
    if unknown_tokens:
        raise ConfigError(
            f"privacy.clear_tokens: no token named {', '.join(sorted(unknown_tokens))} in serve.tokens"
        )
    if settings.backups.keep < 0:
        raise ConfigError("backups.keep: expected 0 (no backups) or a positive whole number")
