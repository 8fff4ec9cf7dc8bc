"""Personal data hashed by role: the salt, one hash in Python, DuckDB and PostgreSQL, the ``bi`` schema, the
PostgreSQL publication and the HTTP API. Measures through every masked path equal the clear ones."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import duckdb
import httpx
import psycopg
import pytest
from postgres_server import PostgresServer, running_postgres

from cubes.definitions import default_cubes
from warehouse.api import create_app
from warehouse.config import PrivacyConfig, Settings, load_settings
from warehouse.errors import ConfigError
from warehouse.masking import classified_columns, classified_view_columns, create_bi_schema
from warehouse.privacy import hash_salt, pii_hash, pii_hash_sql
from warehouse.publish import publish
from warehouse.serve import running_server

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "cases" / "cubes" / "warehouse.sql"
SALT = "test-salt-'quoted'"
VALUES = [
    "  Jane.Doe@Example.COM ",
    "jane.doe@example.com",
    "Ünïcode Ä",
    "ÉCOLE Normale İSTANBUL",  # ASCII capitals beside non-ASCII ones: only A-Z are lowered
    "PLAIN ASCII Upper",
    "\tTab\n",
    "",
    "O'Brien",
    "+12125550100",
]
ROLE_PASSWORDS = {
    "crmwh_analyst": "analyst-Secret-1",
    "crmwh_bi": "bi-Secret-2",
    "crmwh_region_emea": "emea-3",
}
CLEAR_TOKEN, HASHED_TOKEN = "clear-token-0123456789abcdef", "hashed-token-0123456789abcdef"


def test_hash_is_stable_normalised_and_none_stays_none() -> None:
    assert pii_hash(None, SALT) is None
    assert pii_hash("  Jane.Doe@Example.COM ", SALT) == pii_hash("jane.doe@example.com", SALT)
    assert pii_hash("jane.doe@example.com", SALT) != pii_hash("jane.doe@example.com", SALT + "x")
    digest = pii_hash("x", SALT)
    assert digest is not None and digest.startswith("pii_") and len(digest) == 24


def test_python_and_duckdb_give_the_same_hashes() -> None:
    with duckdb.connect() as con:
        for value in VALUES:
            got = con.execute(f"select {pii_hash_sql('v', SALT)} from (select ? as v)", [value]).fetchone()[0]
            assert got == pii_hash(value, SALT), value
        assert con.execute(f"select {pii_hash_sql('null', SALT)}").fetchone()[0] is None


def test_generated_salt_is_private_and_stable(tmp_path: Path) -> None:
    settings = Settings(root=tmp_path, privacy=PrivacyConfig(salt_path=Path("p/salt")))
    first = hash_salt(settings)
    assert len(first) == 64
    assert stat.S_IMODE((tmp_path / "p" / "salt").stat().st_mode) == 0o600
    assert hash_salt(settings) == first
    (tmp_path / "p" / "salt").chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        hash_salt(settings)


def test_salt_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = Settings(root=tmp_path, privacy=PrivacyConfig(hash_salt="env:TEST_CRMWH_SALT"))
    with pytest.raises(ConfigError, match="TEST_CRMWH_SALT"):
        hash_salt(settings)
    monkeypatch.setenv("TEST_CRMWH_SALT", "from-env")
    assert hash_salt(settings) == "from-env"


def test_classification_reaches_the_cube_levels() -> None:
    classified = classified_columns(ROOT)
    assert classified["dim_customer"]["primary_email"].kind == "email"
    assert {"customer_name", "city", "primary_email"} <= set(classified["dim_customer"])
    assert set(classified["dim_owner"]) == {"owner_name"}
    pipeline = classified_view_columns(default_cubes()["pipeline"], classified)
    assert {"customer_customer", "customer_city", "owner_owner"} == set(pipeline)


# ------------------------------------------------------------------------------------------ DuckDB bi schema


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Settings]:
    from cubes.preaggregations import materialise
    from cubes.views import create_views

    base = tmp_path_factory.mktemp("masking")
    path = base / "wh.duckdb"
    settings = Settings(root=ROOT, privacy=PrivacyConfig(salt_path=base / "salt"))
    with duckdb.connect(str(path)) as con:
        con.execute(CASES.read_text(encoding="utf-8"))
        create_views(con)
        materialise(con)
        create_bi_schema(con, settings)
    return path, settings


def rows(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_bi_schema_hashes_every_classified_column(warehouse: tuple[Path, Settings]) -> None:
    path, settings = warehouse
    salt = hash_salt(settings)
    clear = rows(
        path, "select customer_version_key, customer_name, city, primary_email from marts.dim_customer"
    )
    hashed = {r[0]: r[1:] for r in rows(path, "select customer_version_key, customer_name, city, primary_email "
                                        "from bi.dim_customer")}  # fmt: skip
    assert len(clear) == len(hashed) > 0
    for key, *values in clear:
        assert hashed[key] == tuple(pii_hash(v, salt) for v in values)
    owners = rows(path, "select owner_name from marts.dim_owner order by owner_key")
    assert rows(path, "select owner_name from bi.dim_owner order by owner_key") == [
        (pii_hash(o, salt),) for (o,) in owners
    ]
    names = {r[0] for r in rows(path, "select customer_name from marts.dim_customer") if r[0]}
    for view in ("pipeline", "service", "retention", "customer_value"):
        shown = {r[0] for r in rows(path, f"select customer_customer from bi.{view}") if r[0]}
        assert shown and not shown & names, view
    view_text = " ".join(
        r[0] or "" for r in rows(path, "select sql from duckdb_views() where schema_name = 'bi'")
    )
    assert hash_salt(settings) not in view_text


def test_measures_through_bi_equal_marts(warehouse: tuple[Path, Settings]) -> None:
    path, _ = warehouse
    for table, sql in {
        "fct_orders": "select count(*), count(distinct customer_key), sum(amount_reporting) from {s}.fct_orders",
        "fct_opportunities": "select count(*), sum(amount_reporting), count(distinct owner_key) from {s}.fct_opportunities",
        "dim_customer": "select count(*), count(distinct customer_key), count(distinct customer_name) from {s}.dim_customer",
    }.items():  # fmt: skip
        assert rows(path, sql.format(s="bi")) == rows(path, sql.format(s="marts")), table
    for view in ("pipeline", "service", "retention", "customer_value"):
        numeric = [
            r[0] for r in rows(path, f"describe cubes.{view}") if r[1].startswith(("INTEGER", "BIGINT", "DOUBLE", "DECIMAL"))
        ]  # fmt: skip
        sums = ", ".join(f'sum("{c}")' for c in numeric)
        sql = "select fact, count(*), count(distinct customer_customer), {sums} from {s}.{v} group by 1 order by 1"
        assert rows(path, sql.format(sums=sums, s="bi", v=view)) == rows(
            path, sql.format(sums=sums, s="cubes", v=view)
        )


# ------------------------------------------------------------------------------------------ PostgreSQL


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def published(
    pg: PostgresServer, warehouse: tuple[Path, Settings], tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    path, base_settings = warehouse
    secrets_dir = tmp_path_factory.mktemp("secrets")
    sources = {}
    for role, password in {"admin": pg.superuser_password, **ROLE_PASSWORDS}.items():
        (secrets_dir / role).write_text(password, encoding="utf-8")
        (secrets_dir / role).chmod(0o600)
        sources[role] = f"file:{secrets_dir / role}"
    env = {
        "CRMWH_CONFIG": str(secrets_dir / "absent.toml"),
        "CRMWH_PUBLISH__DSN": f"host=127.0.0.1 port={pg.port} dbname={pg.database} user={pg.superuser}",
        "CRMWH_PUBLISH__PASSWORD": sources.pop("admin"),
        "CRMWH_PUBLISH__ROLE_PASSWORDS": json.dumps(sources),
        "CRMWH_PRIVACY__SALT_PATH": str(base_settings.salt_path),
    }
    settings = load_settings(env=env)
    publish(settings, warehouse_path=path)
    return settings


def as_role(pg: PostgresServer, role: str, sql: str) -> list[tuple]:
    with psycopg.connect(pg.dsn(role, ROLE_PASSWORDS[role])) as con:
        return con.execute(sql).fetchall()


def plain(rows_: list[tuple]) -> list[tuple]:
    return sorted((tuple(float(v) if isinstance(v, Decimal) else v for v in r) for r in rows_), key=repr)


def test_postgres_hash_equals_python(pg: PostgresServer) -> None:
    with psycopg.connect(pg.dsn(), autocommit=True) as con:
        for value in VALUES:
            got = con.execute(f"select {pii_hash_sql('%s::text', SALT, 'postgres')}", [value]).fetchone()[0]
            assert got == pii_hash(value, SALT), value


def test_postgres_clear_roles_see_clear_others_hashes(
    pg: PostgresServer, published: Settings, warehouse: tuple[Path, Settings]
) -> None:
    path, _ = warehouse
    salt = hash_salt(published)
    clear = dict(rows(path, "select customer_version_key, customer_name from marts.dim_customer"))
    analyst = dict(
        as_role(pg, "crmwh_analyst", "select customer_version_key, customer_name from marts.dim_customer")
    )
    assert analyst == clear
    emea = as_role(
        pg, "crmwh_region_emea", "select customer_version_key, customer_name, region from marts.dim_customer"
    )
    assert emea and all(region == "EMEA" for *_, region in emea)
    assert {k: n for k, n, _ in emea} == {k: pii_hash(clear[k], salt) for k, _, _ in emea}
    bi_owners = {r[0] for r in as_role(pg, "crmwh_bi", "select distinct owner_owner from cubes.pipeline")}
    clear_owners = {r[0] for r in rows(path, "select distinct owner_owner from cubes.pipeline")}
    assert bi_owners == {pii_hash(o, salt) for o in clear_owners}
    analyst_owners = {
        r[0] for r in as_role(pg, "crmwh_analyst", "select distinct owner_owner from cubes.pipeline")
    }
    assert analyst_owners == clear_owners


def test_postgres_measures_are_unchanged_by_masking(pg: PostgresServer, published: Settings) -> None:
    sql = (
        "select count(*), count(distinct customer_customer), sum(won_amount), sum(lost_amount) "
        "from cubes.pipeline where fact = 'opportunities'"
    )
    assert plain(as_role(pg, "crmwh_bi", sql)) == plain(as_role(pg, "crmwh_analyst", sql))
    by_owner = "select count(*), sum(won_amount) from cubes.pipeline group by owner_owner"
    assert plain(as_role(pg, "crmwh_bi", by_owner)) == plain(as_role(pg, "crmwh_analyst", by_owner))


# ------------------------------------------------------------------------------------------ HTTP API


@pytest.fixture(scope="module")
def api(warehouse: tuple[Path, Settings]) -> Iterator[tuple[str, str]]:
    path, settings = warehouse
    serve = replace(settings.serve, tokens={"clear": "env:T_CLEAR", "hashed": "env:T_HASHED"})
    app_settings = replace(
        settings,
        paths=replace(settings.paths, warehouse_path=path),
        serve=serve,
        privacy=replace(settings.privacy, clear_tokens=("clear",)),
    )
    with running_server(
        create_app(app_settings, env={"T_CLEAR": CLEAR_TOKEN, "T_HASHED": HASHED_TOKEN})
    ) as url:
        yield url, hash_salt(app_settings)


def ask(url: str, token: str, body: dict) -> httpx.Response:
    return httpx.post(f"{url}/query", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def test_api_hashes_personal_levels_unless_the_token_is_clear(api: tuple[str, str]) -> None:
    url, salt = api
    body = {
        "cube": "pipeline",
        "measures": ["leads", "won_amount"],
        "rows": ["customer.customer", "owner.team"],
    }
    clear = ask(url, CLEAR_TOKEN, body).json()["rows"]
    hashed = ask(url, HASHED_TOKEN, body).json()["rows"]
    assert len(clear) == len(hashed) > 0
    expected = [{**r, "customer.customer": pii_hash(r["customer.customer"], salt)} for r in clear]
    key = lambda r: json.dumps(r, sort_keys=True)  # noqa: E731
    assert sorted(hashed, key=key) == sorted(expected, key=key)
    assert any(r["customer.customer"] and not r["customer.customer"].startswith("pii_") for r in clear)


def test_api_refuses_filters_and_pivots_on_personal_levels_for_hashed_tokens(api: tuple[str, str]) -> None:
    url, _ = api
    name = ask(
        url, CLEAR_TOKEN, {"cube": "pipeline", "measures": ["leads"], "rows": ["customer.customer"]}
    ).json()
    member = next(r["customer.customer"] for r in name["rows"] if r["customer.customer"])
    probe = {"cube": "pipeline", "measures": ["leads"], "filters": [f"customer.customer={member}"]}
    refused = ask(url, HASHED_TOKEN, probe)
    assert refused.status_code == 403 and "clear_tokens" in refused.json()["detail"]
    assert member not in refused.text
    assert ask(url, CLEAR_TOKEN, probe).status_code == 200
    pivot = {"cube": "pipeline", "measures": ["leads"], "columns": ["owner.owner"]}
    assert ask(url, HASHED_TOKEN, pivot).status_code == 403
