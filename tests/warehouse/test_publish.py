"""crmwh publish against a real PostgreSQL server: same numbers as DuckDB, roles, row-level security,
atomic swaps (twice in a row, and a publish killed half-way)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
import pytest
from postgres_server import PostgresServer, running_postgres, server_log

from cubes.compiler import compile_query
from cubes.engine import run_query
from cubes.query import Query
from warehouse.config import load_settings
from warehouse.errors import ConfigError
from warehouse.privacy import hash_salt, pii_hash
from warehouse.publish import PublishError, publish

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "cases" / "cubes" / "warehouse.sql"
ROLE_PASSWORDS = {
    "crmwh_analyst": "analyst-Secret-1",
    "crmwh_bi": "bi-Secret-2",
    "crmwh_region_emea": "emea-Secret-3",
}
CUBE_VIEWS = ("customer_value", "pipeline", "retention", "service")
ENGINE_QUERIES = [
    Query(
        cube="pipeline",
        measures=("won_amount", "win_rate_amount", "leads", "median_days_in_stage", "stage_conversion_rate"),
        rows=("owner.team",),
        totals=True,
    ),
    Query(
        cube="service",
        measures=(
            "interactions",
            "first_response_seconds_median",
            "first_response_seconds_p90",
            "sla_attainment",
        ),
        rows=("customer.region", "date.month"),
    ),
    Query(
        cube="retention",
        measures=("customers_in_cohort", "retention_rate", "net_revenue_retention"),
        rows=("cohort.month", "age.months_since_acquisition"),
    ),
    Query(cube="customer_value", measures=("customers", "average_order_value"), rows=("customer.segment",)),
]


def make_warehouse(path: Path) -> Path:
    from cubes.preaggregations import materialise
    from cubes.views import create_views

    with duckdb.connect(str(path)) as con:
        con.execute(CASES.read_text(encoding="utf-8"))
        create_views(con)
        materialise(con)
    return path


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def warehouse_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_warehouse(tmp_path_factory.mktemp("publish") / "wh.duckdb")


@pytest.fixture(scope="module")
def env(pg: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Configuration through the environment; every secret in a 0600 file."""
    secrets_dir = tmp_path_factory.mktemp("secrets")
    sources = {}
    for role, password in {"admin": pg.superuser_password, **ROLE_PASSWORDS}.items():
        path = secrets_dir / role
        path.write_text(password + "\n", encoding="utf-8")
        path.chmod(0o600)
        sources[role] = f"file:{path}"
    return {
        "CRMWH_CONFIG": str(secrets_dir / "absent.toml"),
        "CRMWH_PUBLISH__DSN": f"host=127.0.0.1 port={pg.port} dbname={pg.database} user={pg.superuser}",
        "CRMWH_PUBLISH__PASSWORD": sources.pop("admin"),
        "CRMWH_PUBLISH__ROLE_PASSWORDS": json.dumps(sources),
        "CRMWH_PRIVACY__SALT_PATH": str(secrets_dir / "salt"),
    }


@pytest.fixture(scope="module")
def published(env: dict[str, str], warehouse_file: Path) -> dict:
    return publish(load_settings(env=env), warehouse_path=warehouse_file).to_dict()


def admin(pg: PostgresServer) -> psycopg.Connection:
    return psycopg.connect(pg.dsn(), autocommit=True)


def duck_rows(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def normalise(rows: list[tuple]) -> list[tuple]:
    def value(v: object) -> object:
        if isinstance(v, float):
            return round(v, 9)
        if isinstance(v, Decimal):
            return round(float(v), 9)
        return v

    return sorted((tuple(value(v) for v in r) for r in rows), key=repr)


def test_tables_and_cube_views_equal_duckdb(
    pg: PostgresServer, published: dict, warehouse_file: Path
) -> None:
    marts = [
        r[0]
        for r in duck_rows(
            warehouse_file, "select table_name from duckdb_tables() where schema_name = 'marts'"
        )
    ]
    assert sorted(published["tables"]) == sorted(marts)
    assert sorted(published["views"]) == [f"cubes.{c}" for c in CUBE_VIEWS]
    with admin(pg) as con:
        for table in marts:
            expected = duck_rows(warehouse_file, f"select count(*) from marts.{table}")[0][0]
            assert con.execute(f"select count(*) from marts.{table}").fetchone()[0] == expected, table
            assert published["tables"][table] == expected
        for view in CUBE_VIEWS:
            columns = [r[0] for r in duck_rows(warehouse_file, f"describe cubes.{view}")]
            numeric = [
                r[0]
                for r in duck_rows(warehouse_file, f"describe cubes.{view}")
                if r[1].startswith(("INTEGER", "BIGINT", "DOUBLE", "DECIMAL"))
            ]
            assert numeric, view
            pg_columns = [
                r[0]
                for r in con.execute(
                    "select column_name from information_schema.columns where table_schema = 'cubes' "
                    "and table_name = %s order by ordinal_position",
                    [view],
                ).fetchall()
            ]
            assert pg_columns == columns
            # Every additive building block summed per fact: the numbers a BI tool would show.
            sums = ", ".join(f'sum("{c}")' for c in numeric)
            sql = f'select fact, count(*), {sums} from cubes."{view}" group by fact'
            assert normalise(con.execute(sql).fetchall()) == normalise(duck_rows(warehouse_file, sql)), view


@pytest.mark.parametrize("query", ENGINE_QUERIES, ids=[q.cube for q in ENGINE_QUERIES])
def test_cube_engine_sql_on_postgres_equals_duckdb(
    pg: PostgresServer, published: dict, warehouse_file: Path, query: Query
) -> None:
    sql = compile_query(query).to_sql("postgres", inline=True)
    with admin(pg) as con:
        on_postgres = con.execute(sql).fetchall()
    on_duckdb = run_query(warehouse_file, query, pivot=False).to_pylist()
    assert len(on_postgres) == len(on_duckdb) > 0
    assert normalise(on_postgres) == normalise([tuple(r.values()) for r in on_duckdb])


def test_win_rate_by_owner_through_the_bi_role_is_a_ratio_of_sums(
    pg: PostgresServer, published: dict, env: dict[str, str]
) -> None:
    # tests/cases/cubes/warehouse.sql: Ann won 1000 + 3000 and lost 9000, Bob won 100 and lost 100.
    # Owner names are personal data: the BI role sees them as salted hashes.
    salt = hash_salt(load_settings(env=env))
    sql = (
        "select owner_owner, sum(won_amount) / nullif(sum(won_amount) + sum(lost_amount), 0) "
        "from cubes.pipeline where fact = 'opportunities' group by rollup (owner_owner) order by 1"
    )
    with psycopg.connect(pg.dsn("crmwh_bi", ROLE_PASSWORDS["crmwh_bi"])) as con:
        got = {
            owner: float(rate) if rate is not None else None for owner, rate in con.execute(sql).fetchall()
        }
    assert got[pii_hash("Ann", salt)] == pytest.approx(4000 / 13000)
    assert got[pii_hash("Bob", salt)] == pytest.approx(0.5)
    assert got[None] == pytest.approx(4100 / 13200)


def emea_count(path: Path, table: str) -> int:
    return duck_rows(
        path,
        f"select count(*) from marts.{table} t join marts.dim_customer c "
        "on c.customer_key = t.customer_key and c.is_current where c.region = 'EMEA'",
    )[0][0]


def test_region_role_sees_only_its_region_in_tables_and_cube_views(
    pg: PostgresServer, published: dict, warehouse_file: Path
) -> None:
    password = ROLE_PASSWORDS["crmwh_region_emea"]
    with psycopg.connect(pg.dsn("crmwh_region_emea", password)) as con:
        for table in (
            "fct_interactions",
            "fct_cases",
            "fct_opportunities",
            "fct_leads",
            "customer_lifetime_value",
        ):
            total = duck_rows(warehouse_file, f"select count(*) from marts.{table}")[0][0]
            visible = con.execute(f"select count(*) from marts.{table}").fetchone()[0]
            assert visible == emea_count(warehouse_file, table) < total, table
            regions = con.execute(f"select distinct customer_current_region from marts.{table}").fetchall()
            assert regions == [("EMEA",)]
        assert {r[0] for r in con.execute("select customer_key from marts.dim_customer").fetchall()} == {
            "c2",
            "c3",
        }
        for view in CUBE_VIEWS:
            expected = duck_rows(
                warehouse_file,
                f"select fact, count(*) from cubes.{view} where customer_region = 'EMEA' group by 1",
            )
            assert sorted(
                con.execute(f"select fact, count(*) from cubes.{view} group by 1").fetchall()
            ) == sorted(expected), view
        # Shared dimensions stay whole.
        assert con.execute("select count(*) from marts.dim_owner").fetchone()[0] == 4
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            con.execute("delete from marts.fct_cases")


def test_bi_role_reads_cube_views_only(pg: PostgresServer, published: dict, warehouse_file: Path) -> None:
    with psycopg.connect(pg.dsn("crmwh_bi", ROLE_PASSWORDS["crmwh_bi"]), autocommit=True) as con:
        expected = duck_rows(warehouse_file, "select count(*) from cubes.service")[0][0]
        assert con.execute("select count(*) from cubes.service").fetchone()[0] == expected
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            con.execute("select count(*) from marts.fct_interactions")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            con.execute("select count(*) from marts.dim_customer")


def test_a_role_without_a_scope_sees_no_restricted_rows(pg: PostgresServer, published: dict) -> None:
    with admin(pg) as con:
        con.execute("drop role if exists stranger")
        con.execute("create role stranger login password 'stranger-pw'")
        con.execute("grant usage on schema marts to stranger")
        con.execute("grant select on marts.fct_cases, marts.dim_owner to stranger")
    try:
        with psycopg.connect(pg.dsn("stranger", "stranger-pw")) as con:
            assert con.execute("select count(*) from marts.fct_cases").fetchone()[0] == 0
            assert con.execute("select count(*) from marts.dim_owner").fetchone()[0] == 4
    finally:
        with admin(pg) as con:
            con.execute("drop owned by stranger")
            con.execute("drop role stranger")


@pytest.mark.parametrize(
    ("role", "sql", "expected"),
    [
        ("crmwh_analyst", "select count(*) from marts.fct_cases", "5"),
        ("crmwh_analyst", "select count(*) from cubes.retention", "11"),
        ("crmwh_bi", "select count(*) from cubes.customer_value", "4"),
        ("crmwh_region_emea", "select count(*) from marts.fct_cases", "2"),
        ("crmwh_region_emea", "select count(*) from cubes.customer_value", "2"),
    ],
)
def test_psql_connects_with_each_role(
    pg: PostgresServer, published: dict, role: str, sql: str, expected: str
) -> None:
    result = subprocess.run(
        [pg.psql, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", pg.dsn(role), "-c", sql],
        capture_output=True,
        text=True,
        env={**os.environ, "PGPASSWORD": ROLE_PASSWORDS[role]},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_psql_refuses_a_wrong_password_and_bi_on_marts(pg: PostgresServer, published: dict) -> None:
    wrong = subprocess.run(
        [pg.psql, "-X", "-d", pg.dsn("crmwh_analyst"), "-c", "select 1"],
        capture_output=True, text=True, env={**os.environ, "PGPASSWORD": "wrong"}, check=False,
    )  # fmt: skip
    assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr
    denied = subprocess.run(
        [pg.psql, "-X", "-v", "ON_ERROR_STOP=1", "-d", pg.dsn("crmwh_bi"), "-c", "select * from marts.fct_cases"],
        capture_output=True, text=True, env={**os.environ, "PGPASSWORD": ROLE_PASSWORDS["crmwh_bi"]}, check=False,
    )  # fmt: skip
    assert denied.returncode != 0 and "permission denied" in denied.stderr


def test_no_password_reaches_the_server_log(pg: PostgresServer, published: dict) -> None:
    log = server_log(pg)
    assert "alter role" in log.lower()  # the log does record the role statements (log_statement=all)
    for secret in [pg.superuser_password, *ROLE_PASSWORDS.values()]:
        assert secret not in log


def live_state(pg: PostgresServer) -> tuple[int, int, list[str]]:
    with admin(pg) as con:
        leads = con.execute("select count(*) from marts.fct_leads").fetchone()[0]
        view_leads = con.execute("select count(*) from cubes.pipeline where fact = 'leads'").fetchone()[0]
        schemas = [
            r[0]
            for r in con.execute(
                "select nspname from pg_namespace where nspname like 'crmwh\\_%' order by 1"
            ).fetchall()
        ]
    return leads, view_leads, schemas


def bigger_warehouse(source: Path, target: Path) -> Path:
    shutil.copy(source, target)
    with duckdb.connect(str(target)) as con:
        con.execute(
            "insert into marts.fct_leads select 'hubspot:99', source_system, customer_key, owner_key, campaign_key, "
            "created_at, created_date, false, null, null, null, false, 'open' from marts.fct_leads limit 1"
        )
    return target


def test_publishing_twice_in_a_row(
    pg: PostgresServer, env: dict[str, str], published: dict, warehouse_file: Path
) -> None:
    second = publish(load_settings(env=env), warehouse_path=warehouse_file).to_dict()
    assert second["run_id"] != published["run_id"]
    assert second["tables"] == published["tables"]
    leads, view_leads, schemas = live_state(pg)
    assert (leads, view_leads) == (7, 7)
    assert schemas == ["crmwh_meta"]
    with admin(pg) as con:
        runs = [r[0] for r in con.execute("select run_id from crmwh_meta.publications").fetchall()]
    assert {published["run_id"], second["run_id"]} <= set(runs)


@pytest.mark.parametrize("stage", ["load", "swap"])
def test_a_publish_killed_half_way_leaves_the_previous_one(
    pg: PostgresServer, env: dict[str, str], published: dict, warehouse_file: Path, tmp_path: Path, stage: str
) -> None:
    assert live_state(pg)[:2] == (7, 7)
    bigger = bigger_warehouse(warehouse_file, tmp_path / "bigger.duckdb")
    process = subprocess.Popen(
        [sys.executable, "-m", "warehouse.publish", "--warehouse", str(bigger)],
        env={**os.environ, **env, "CRMWH_PUBLISH_PAUSE_AT": stage, "CRMWH_PUBLISH_PAUSE_SECONDS": "120"},
        cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = process.stderr.readline()
        assert f"paused at {stage}" in line, line + process.stderr.read()
        # Mid-load the new schema exists beside the live one; mid-swap the renames are not committed.
        leads, view_leads, schemas = live_state(pg)
        assert (leads, view_leads) == (7, 7)
        if stage == "load":
            assert any(s.startswith("crmwh_load_") for s in schemas)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        process.stderr.close()
        process.stdout.close()
    assert live_state(pg)[:2] == (7, 7)
    with psycopg.connect(pg.dsn("crmwh_region_emea", ROLE_PASSWORDS["crmwh_region_emea"])) as con:
        assert con.execute("select count(*) from marts.fct_cases").fetchone()[0] == 2
    report = publish(load_settings(env=env), warehouse_path=bigger)
    assert report.tables[[t.name for t in report.tables].index("fct_leads")].rows == 8
    leads, view_leads, schemas = live_state(pg)
    assert (leads, view_leads) == (8, 8)
    assert schemas == ["crmwh_meta"]
    publish(load_settings(env=env), warehouse_path=warehouse_file)
    assert live_state(pg)[:2] == (7, 7)


def test_cli_publish_prints_a_report_and_errors_are_one_line(
    env: dict[str, str], published: dict, warehouse_file: Path, tmp_path: Path
) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "warehouse.publish", "--warehouse", str(warehouse_file), "--json"],
        env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["tables"]["fct_cases"] == 5
    missing = subprocess.run(
        [sys.executable, "-m", "warehouse.publish", "--warehouse", str(tmp_path / "none.duckdb")],
        env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr and "Traceback" not in missing.stderr


def test_wrong_publisher_password_is_refused_without_leaking_it(
    pg: PostgresServer, env: dict[str, str], warehouse_file: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "bad"
    secret.write_text("not-the-password-xyz", encoding="utf-8")
    secret.chmod(0o600)
    settings = load_settings(env={**env, "CRMWH_PUBLISH__PASSWORD": f"file:{secret}"})
    with pytest.raises(PublishError) as info:
        publish(settings, warehouse_path=warehouse_file)
    assert "password authentication failed" in str(info.value)
    assert "not-the-password-xyz" not in str(info.value)


def test_secret_files_readable_by_others_are_refused(
    env: dict[str, str], warehouse_file: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "open"
    secret.write_text("pw", encoding="utf-8")
    secret.chmod(0o644)
    settings = load_settings(env={**env, "CRMWH_PUBLISH__PASSWORD": f"file:{secret}"})
    with pytest.raises(PublishError, match="chmod 600"):
        publish(settings, warehouse_path=warehouse_file)


def test_missing_target_and_passwords_in_config_are_refused(warehouse_file: Path, tmp_path: Path) -> None:
    base = {"CRMWH_CONFIG": str(tmp_path / "absent.toml")}
    with pytest.raises(PublishError, match="no PostgreSQL target"):
        publish(load_settings(env=base), warehouse_path=warehouse_file)
    with pytest.raises(ConfigError, match="remove the password"):
        load_settings(env={**base, "CRMWH_PUBLISH__DSN": "host=x user=y password=hunter2"})
    with pytest.raises(ConfigError, match="env:VARIABLE or file"):
        load_settings(env={**base, "CRMWH_PUBLISH__ROLE_PASSWORDS": '{"crmwh_bi": "hunter2"}'})
    with pytest.raises(ConfigError, match="role name"):
        load_settings(env={**base, "CRMWH_PUBLISH__CUBE_ROLES": '["bi; drop table x"]'})
