"""``crmwh publish``: copy the marts and the cube views into PostgreSQL, atomically, for BI servers.

The DuckDB warehouse is read (read-only) as Arrow batches and bulk-loaded with the ADBC PostgreSQL
driver (binary COPY) into fresh schemas ``crmwh_load_<run>_marts`` / ``_cubes``; indexes, row-level
security, grants and ``ANALYZE`` are done there. Then one transaction renames the live ``marts`` and
``cubes`` away, the new ones in, and drops the old: BI users see the previous publication or the new
one, never a mix. Anything failing before that commit leaves the previous publication untouched, and
the leftovers of a killed run are dropped by the next one.

Access model (roles from ``[publish]``): analysts read every mart and cube view; cube roles read only
the cube views (owned by the NOLOGIN ``owner_role``, so they need no right on the marts); region roles
read both, but row-level security shows them only rows of customers whose current region is theirs.
Every table with a ``customer_key`` gets a ``customer_current_region`` column the policy keys on; the
policies read ``current_user``, which stays the caller's inside views, so they hold in the cube views too.

Personal data (mart columns classified with ``meta.pii``, see warehouse.masking): a mart with classified columns
is loaded into schema ``marts_private`` (readable by the owner role only) with each classified column followed by
its salted hash, computed here from DuckDB so the salt never reaches PostgreSQL; ``marts.<table>`` is then a view
showing the clear value to members of ``[privacy] clear_roles`` and the hash to everyone else, under the same
column name. Cube views read those views, so they are masked the same way.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import duckdb
import typer

from warehouse.config import PublishConfig, Settings, load_settings
from warehouse.errors import WarehouseError

LIVE_SCHEMAS = ("marts", "cubes", "marts_private")
HASH_SUFFIX = "__pii_hash"
META_SCHEMA = "crmwh_meta"
REGION_COLUMN = "customer_current_region"
SCHEMA_COMMENT = "crmwh publication"
PAUSE_ENV = "CRMWH_PUBLISH_PAUSE_AT"
PAUSE_SECONDS_ENV = "CRMWH_PUBLISH_PAUSE_SECONDS"
ADVISORY_LOCK_KEY = 7_406_315_001
DUCKDB_TO_POSTGRES = {
    "VARCHAR": "text",
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "UTINYINT": "smallint",
    "USMALLINT": "integer",
    "UINTEGER": "bigint",
    "UBIGINT": "numeric(20,0)",
    "HUGEINT": "numeric(38,0)",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "DATE": "date",
    "TIME": "time",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP_NS": "timestamp",
    "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_S": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "INTERVAL": "interval",
    "UUID": "uuid",
    "BLOB": "bytea",
    "JSON": "text",
}


class PublishError(WarehouseError):
    """The PostgreSQL publication could not be made; the previous one is still live."""


@dataclass
class PublishedTable:
    name: str
    rows: int
    region_restricted: bool


@dataclass
class PublishReport:
    run_id: str
    warehouse_path: Path
    target: str
    tables: list[PublishedTable] = field(default_factory=list)
    views: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    load_seconds: float = 0.0
    index_seconds: float = 0.0
    swap_seconds: float = 0.0
    total_seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "warehouse_path": str(self.warehouse_path),
            "target": self.target,
            "tables": {t.name: t.rows for t in self.tables},
            "region_restricted_tables": [t.name for t in self.tables if t.region_restricted],
            "views": self.views,
            "roles": self.roles,
            "rows": self.rows,
            "load_seconds": self.load_seconds,
            "index_seconds": self.index_seconds,
            "swap_seconds": self.swap_seconds,
            "total_seconds": self.total_seconds,
        }

    def render(self) -> str:
        lines = [
            f"published {len(self.tables)} tables ({self.rows:,} rows) and {len(self.views)} cube views "
            f"to {self.target} in {self.total_seconds:.1f}s "
            f"(load {self.load_seconds:.1f}s, indexes+analyze {self.index_seconds:.1f}s, swap {self.swap_seconds:.2f}s)",
            f"roles: {', '.join(self.roles)}",
        ]
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------- secrets


def read_secret(source: str, what: str) -> str:
    """A secret from ``env:VARIABLE`` or ``file:/path`` (the file must not be readable by others)."""
    kind, _, where = source.partition(":")
    if kind == "env":
        value = os.environ.get(where)
        if not value:
            raise PublishError(f"{what}: environment variable {where} is not set or empty")
        return value
    if kind == "file":
        path = Path(where)
        try:
            mode = path.stat().st_mode
        except OSError:
            raise PublishError(f"{what}: secret file {path} does not exist or cannot be read") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise PublishError(f"{what}: secret file {path} is readable by others; run chmod 600 {path}")
        value = path.read_text(encoding="utf-8").strip()
        if not value:
            raise PublishError(f"{what}: secret file {path} is empty")
        return value
    raise PublishError(f"{what}: expected env:VARIABLE or file:/path")


class Scrubber:
    """Removes known secrets from messages before they reach a user, a log or an exception."""

    def __init__(self) -> None:
        self.secrets: list[str] = []

    def add(self, secret: str) -> str:
        self.secrets.append(secret)
        return secret

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return re.sub(r"password=\S+", "password=***", text)


# ------------------------------------------------------------------------------------ PostgreSQL SQL


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def postgres_type(duckdb_type: str) -> str | None:
    """The PostgreSQL column type, or None when the value travels as text (lists, structs, maps)."""
    upper = duckdb_type.upper()
    if upper in DUCKDB_TO_POSTGRES:
        return DUCKDB_TO_POSTGRES[upper]
    decimal = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", upper)
    if decimal:
        return f"numeric({decimal.group(1)},{decimal.group(2)})"
    return None


def indexed_columns(table: str, columns: list[str], restricted: bool) -> list[str]:
    """Keys and the usual filter columns: the first column (the table's id), ``*_key``, ``*_date``."""
    chosen = [columns[0]] if columns else []
    chosen += [c for c in columns if c.endswith(("_key", "_date")) and c not in chosen]
    if restricted:
        chosen.append(REGION_COLUMN)
    return chosen


def region_policy_sql(schema: str, table: str) -> str:
    """Rows visible to a role (or a member of one) whose scope in ``crmwh_meta.role_scope`` allows them.

    The scope is looked up once per query (an uncorrelated sub-select becomes an InitPlan), not once per
    row. Roles without a scope see nothing (default deny), even if someone grants them the table."""
    scope = f"(select {META_SCHEMA}.region_scope(current_user))::text[]"
    return (
        f"create policy crmwh_region_scope on {quote_ident(schema)}.{quote_ident(table)} for select using ("
        f"'*' = any({scope}) or {quote_ident(REGION_COLUMN)} = any({scope}))"
    )


def cube_view_sql(cube: Any, marts_schema: str, cubes_schema: str, column_types: dict[str, str]) -> str:
    """The cube's view (cubes.views.view_sql) in the PostgreSQL dialect, reading ``marts_schema``.

    ``column_types`` are the view's PostgreSQL column types: PostgreSQL types each UNION ALL pair on its
    own, so a column that is NULL in two facts would become text and clash with the third; typed NULLs
    keep every branch the type DuckDB infers for the whole view."""
    from sqlglot import exp

    from cubes.views import view_sql

    select = view_sql(cube).copy()
    for table in select.find_all(exp.Table):
        if table.db == "marts":
            table.set("db", exp.to_identifier(marts_schema, quoted=True))
    for alias in select.find_all(exp.Alias):
        if isinstance(alias.this, exp.Null) and alias.alias in column_types:
            typed = exp.DataType.build(column_types[alias.alias], dialect="postgres")
            alias.set("this", exp.Cast(this=exp.Null(), to=typed))
    body = select.sql("postgres")
    return (
        f"create view {quote_ident(cubes_schema)}.{quote_ident(cube.name)} with (security_barrier = true) "
        f"as {body}"
    )


# ----------------------------------------------------------------------------------------- pausing


def pause_point(stage: str) -> None:
    """Test hook: with CRMWH_PUBLISH_PAUSE_AT=<stage>, announce the stage on stderr and wait, so a test can
    kill the process at exactly this point."""
    if os.environ.get(PAUSE_ENV) != stage:
        return
    print(f"crmwh publish: paused at {stage}", file=sys.stderr, flush=True)
    time.sleep(float(os.environ.get(PAUSE_SECONDS_ENV, "60")))


# ------------------------------------------------------------------------------------------ publish


@dataclass
class Target:
    conninfo: str
    password: str | None
    description: str

    def connect(self, autocommit: bool = True) -> Any:
        import psycopg

        kwargs = {"password": self.password} if self.password else {}
        return psycopg.connect(
            self.conninfo, autocommit=autocommit, application_name="crmwh publish", **kwargs
        )

    def adbc_uri(self) -> str:
        from urllib.parse import urlencode

        from psycopg.conninfo import conninfo_to_dict

        params = {k: str(v) for k, v in conninfo_to_dict(self.conninfo).items()}
        if self.password:
            params["password"] = self.password
        return "postgresql:///?" + urlencode(params)


def _target(cfg: PublishConfig, dsn: str | None, scrub: Scrubber) -> Target:
    conninfo = dsn or cfg.dsn
    if not conninfo.strip():
        raise PublishError(
            "no PostgreSQL target: set [publish] dsn in crmwh.toml, CRMWH_PUBLISH__DSN or --dsn "
            "(for example 'host=db.internal dbname=crmwh user=crmwh_publisher')"
        )
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(conninfo)
    except Exception:
        raise PublishError("publish dsn is not a valid libpq connection string") from None
    if "password" in params:
        scrub.add(str(params["password"]))
    password = scrub.add(read_secret(cfg.password, "publish.password")) if cfg.password else None
    description = f"{params.get('host', 'localhost')}:{params.get('port', 5432)}/{params.get('dbname', '')}"
    return Target(conninfo, password, description)


def _role_passwords(cfg: PublishConfig, scrub: Scrubber) -> dict[str, str]:
    return {
        role: scrub.add(read_secret(source, f"publish.role_passwords.{role}"))
        for role, source in cfg.role_passwords.items()
    }


def _region_scope(cfg: PublishConfig) -> list[tuple[str, str | None]]:
    scope: list[tuple[str, str | None]] = [(r, None) for r in (*cfg.analyst_roles, *cfg.cube_roles)]
    scope.append((cfg.owner_role, None))
    for role, regions in cfg.region_roles.items():
        scope += [(role, region.strip()) for region in regions.split(",") if region.strip()]
    return scope


def ensure_roles(con: Any, cfg: PublishConfig, passwords: dict[str, str]) -> list[str]:
    """Create missing roles (NOLOGIN), set LOGIN + password where one is configured, read-only defaults.

    Passwords are turned into SCRAM verifiers on the client (libpq), so the clear text never reaches the
    server or its statement log."""
    existing = {r[0] for r in con.execute("select rolname from pg_catalog.pg_roles").fetchall()}
    readers = [*cfg.analyst_roles, *cfg.cube_roles, *cfg.region_roles]
    dbname = con.info.dbname
    for role in [cfg.owner_role, *readers]:
        if role not in existing:
            con.execute(f"create role {quote_ident(role)} nologin")
    for role in readers:
        ident = quote_ident(role)
        if role in passwords:
            verifier = con.pgconn.encrypt_password(
                passwords[role].encode(), role.encode(), b"scram-sha-256"
            ).decode()
            con.execute(f"alter role {ident} login password {quote_literal(verifier)}")
        con.execute(f"alter role {ident} set default_transaction_read_only = on")
        con.execute(
            f"alter role {ident} set statement_timeout = {quote_literal(f'{cfg.role_statement_timeout_seconds}s')}"
        )
        con.execute(f"grant connect on database {quote_ident(dbname)} to {ident}")
    is_super = con.execute(
        "select rolsuper from pg_catalog.pg_roles where rolname = current_user"
    ).fetchone()[0]
    if not is_super:
        # To hand the cube views to the owner role the publisher must be a member of it.
        con.execute(f"grant {quote_ident(cfg.owner_role)} to current_user")
    return [cfg.owner_role, *readers]


def _ensure_meta(con: Any, cfg: PublishConfig) -> None:
    con.execute(f"create schema if not exists {META_SCHEMA}")
    con.execute(f"create table if not exists {META_SCHEMA}.role_scope (role_name text not null, region text)")
    con.execute(f"create table if not exists {META_SCHEMA}.clear_roles (role_name text not null)")
    con.execute(
        f"create or replace function {META_SCHEMA}.sees_personal_data(who name) returns boolean language sql "
        "stable security definer set search_path = pg_catalog, pg_temp as $$ "
        f"select exists (select 1 from {META_SCHEMA}.clear_roles c join pg_catalog.pg_roles r "
        "on r.rolname = c.role_name where pg_catalog.pg_has_role(who, r.oid, 'MEMBER')) $$"
    )
    con.execute(
        f"create table if not exists {META_SCHEMA}.publications (run_id text primary key, "
        "published_at timestamptz not null, warehouse_path text, tables integer, total_rows bigint, "
        "seconds double precision)"
    )
    # Security definer so that policies work for every role, also one a DBA grants a table to later
    # (it then sees no restricted rows instead of an error); the caller is passed in because inside
    # the function current_user is its owner.
    con.execute(
        f"create or replace function {META_SCHEMA}.region_scope(who name) returns text[] language sql stable "
        "security definer set search_path = pg_catalog, pg_temp as $$ "
        "select coalesce(array_agg(coalesce(s.region, '*')), '{}') "
        f"from {META_SCHEMA}.role_scope s join pg_catalog.pg_roles r on r.rolname = s.role_name "
        "where pg_catalog.pg_has_role(who, r.oid, 'MEMBER') $$"
    )
    readers = [cfg.owner_role, *cfg.analyst_roles, *cfg.cube_roles, *cfg.region_roles]
    names = ", ".join(quote_ident(r) for r in readers)
    con.execute(f"grant usage on schema {META_SCHEMA} to public")
    con.execute(
        f"grant select on {META_SCHEMA}.role_scope, {META_SCHEMA}.publications, {META_SCHEMA}.clear_roles "
        f"to {names}"
    )


def _drop_leftovers(con: Any) -> list[str]:
    """Schemas of publishes that died before their swap (the advisory lock says none is running)."""
    rows = con.execute(
        "select nspname from pg_catalog.pg_namespace where nspname like 'crmwh\\_load\\_%' "
        "or nspname like 'crmwh\\_old\\_%'"
    ).fetchall()
    for (name,) in rows:
        con.execute(f"drop schema {quote_ident(name)} cascade")
    return [r[0] for r in rows]


def _check_live_schemas_are_ours(con: Any) -> list[str]:
    rows = con.execute(
        "select nspname, coalesce(obj_description(oid, 'pg_namespace'), '') from pg_catalog.pg_namespace "
        "where nspname = any(%s)",
        [list(LIVE_SCHEMAS)],
    ).fetchall()
    for name, comment in rows:
        if not comment.startswith(SCHEMA_COMMENT):
            raise PublishError(
                f"schema {name} already exists in the target database and was not made by crmwh publish; "
                "drop or rename it, or publish to another database"
            )
    return [r[0] for r in rows]


@contextmanager
def _publish_lock(con: Any) -> Iterator[None]:
    got = con.execute("select pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY]).fetchone()[0]
    if not got:
        raise PublishError("another crmwh publish is running against this database; try again when it ends")
    try:
        yield
    finally:
        con.execute("select pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])


def _mart_relations(duck: duckdb.DuckDBPyConnection) -> list[str]:
    rows = duck.execute(
        "select table_name from information_schema.tables where table_schema = 'marts' order by table_name"
    ).fetchall()
    return [r[0] for r in rows]


def _source_query(
    duck: duckdb.DuckDBPyConnection, table: str, personal: frozenset[str] = frozenset(), salt: str = ""
) -> tuple[str, list[tuple[str, str]], bool]:
    """The DuckDB SELECT feeding one published table, its PostgreSQL columns, and whether RLS applies.
    Each ``personal`` column is followed by ``<column>__pii_hash``, its salted hash."""
    from warehouse.privacy import pii_hash_sql

    described = duck.execute(f"describe select * from marts.{quote_ident(table)}").fetchall()
    columns = [(r[0], r[1]) for r in described]
    names = {c for c, _ in columns}
    select_list: list[str] = []
    pg_columns: list[tuple[str, str]] = []
    for name, dtype in columns:
        pg = postgres_type(dtype)
        expr = f"t.{quote_ident(name)}"
        if pg is None:
            pg, expr = "text", f"cast({expr} as varchar)"
        select_list.append(f"{expr} as {quote_ident(name)}")
        pg_columns.append((name, pg))
        if name in personal:
            select_list.append(
                f"{pii_hash_sql(f't.{quote_ident(name)}', salt)} as {quote_ident(name + HASH_SUFFIX)}"
            )
            pg_columns.append((name + HASH_SUFFIX, "text"))
    restricted = "customer_key" in names and REGION_COLUMN not in names
    source = f"marts.{quote_ident(table)} t"
    if restricted:
        # One region per customer: that of its current version (the latest, should is_current be absent).
        select_list.append(f"r.region as {quote_ident(REGION_COLUMN)}")
        pg_columns.append((REGION_COLUMN, "text"))
        source += (
            " left join (select customer_key, arg_max(region, (is_current, valid_from)) as region "
            "from marts.dim_customer group by customer_key) r on r.customer_key = t.customer_key"
        )
    return f"select {', '.join(select_list)} from {source}", pg_columns, restricted


def masked_view_sql(
    marts_schema: str, private_schema: str, table: str, columns: list[str], personal: frozenset[str]
) -> str:
    """``marts.<table>`` over its private copy: personal columns in clear for clear roles, hashed otherwise.
    The role test is an uncorrelated sub-select, evaluated once per query."""
    clear = f"(select {META_SCHEMA}.sees_personal_data(current_user))"
    outputs = []
    for name in columns:
        if name.endswith(HASH_SUFFIX) and name[: -len(HASH_SUFFIX)] in personal:
            continue
        column = f"t.{quote_ident(name)}"
        if name in personal:
            hashed = f"t.{quote_ident(name + HASH_SUFFIX)}"
            column = f"case when {clear} then cast({column} as text) else {hashed} end"
        outputs.append(f"{column} as {quote_ident(name)}")
    return (
        f"create view {quote_ident(marts_schema)}.{quote_ident(table)} as select {', '.join(outputs)} "
        f"from {quote_ident(private_schema)}.{quote_ident(table)} t"
    )


def publish(
    settings: Settings,
    warehouse_path: Path | None = None,
    dsn: str | None = None,
    run_id: str | None = None,
) -> PublishReport:
    """Publish the warehouse's marts and cube views to PostgreSQL (see the module docstring)."""
    scrub = Scrubber()
    try:
        return _publish(settings, warehouse_path, dsn, run_id, scrub)
    except PublishError as exc:
        raise PublishError(scrub(str(exc))) from None
    except duckdb.Error as exc:
        raise PublishError(f"reading the warehouse failed: {scrub(str(exc))}") from None
    except Exception as exc:
        import psycopg

        adbc_error = _adbc_error_type()
        if isinstance(exc, psycopg.Error) or (adbc_error is not None and isinstance(exc, adbc_error)):
            message = scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
            raise PublishError(
                f"PostgreSQL publish failed, the previous publication is still live: {message}"
            ) from None
        raise


def _adbc_error_type() -> type[Exception] | None:
    try:
        from adbc_driver_manager import Error
    except ImportError:
        return None
    return Error


def _publish(
    settings: Settings, warehouse_path: Path | None, dsn: str | None, run_id: str | None, scrub: Scrubber
) -> PublishReport:
    import adbc_driver_postgresql.dbapi as adbc

    from cubes.definitions import default_cubes
    from warehouse.masking import classified_columns
    from warehouse.privacy import hash_salt

    cfg = settings.publish
    classified = classified_columns(settings.root)
    started = time.perf_counter()
    path = warehouse_path or settings.warehouse_path
    if not path.exists():
        raise PublishError(
            f"warehouse {path} does not exist; build it first (crmwh build) or pass --warehouse"
        )
    target = _target(cfg, dsn, scrub)
    passwords = _role_passwords(cfg, scrub)
    run = run_id or f"{datetime.now(UTC):%Y%m%d%H%M%S}_{secrets.token_hex(3)}"
    if not re.fullmatch(r"[a-z0-9_]{1,30}", run):
        raise PublishError(f"run id {run!r}: use lower-case letters, digits and _ (max 30)")
    load_schemas = {live: f"crmwh_load_{run}_{live}" for live in LIVE_SCHEMAS}
    old_schemas = {live: f"crmwh_old_{run}_{live}" for live in LIVE_SCHEMAS}
    report = PublishReport(run, path, target.description)
    cubes = default_cubes()

    with duckdb.connect(str(path), read_only=True) as duck, target.connect() as con, _publish_lock(con):
        report.roles = ensure_roles(con, cfg, passwords)
        _ensure_meta(con, cfg)
        _drop_leftovers(con)
        _check_live_schemas_are_ours(con)
        marts, cubes_schema = load_schemas["marts"], load_schemas["cubes"]
        private = load_schemas["marts_private"]
        salt = hash_salt(settings) if classified else ""
        for schema in load_schemas.values():
            con.execute(f"create schema {quote_ident(schema)}")
            con.execute(
                f"comment on schema {quote_ident(schema)} is {quote_literal(f'{SCHEMA_COMMENT} {run}')}"
            )

        load_started = time.perf_counter()
        plans = []
        with adbc.connect(target.adbc_uri()) as bulk:
            for table in _mart_relations(duck):
                present = {r[0] for r in duck.execute(f"describe marts.{quote_ident(table)}").fetchall()}
                personal = frozenset(classified.get(table, {})) & present
                schema = private if personal else marts
                query, columns, restricted = _source_query(duck, table, personal, salt)
                column_sql = ", ".join(f"{quote_ident(c)} {t}" for c, t in columns)
                con.execute(f"create table {quote_ident(schema)}.{quote_ident(table)} ({column_sql})")
                reader = duck.sql(query).to_arrow_reader(cfg.batch_rows)
                with bulk.cursor() as cursor:
                    rows = cursor.adbc_ingest(table, reader, mode="append", db_schema_name=schema)
                bulk.commit()
                report.tables.append(PublishedTable(table, int(rows), restricted))
                plans.append((table, schema, [c for c, _ in columns], restricted, personal))
                pause_point("load")
        report.load_seconds = round(time.perf_counter() - load_started, 2)

        index_started = time.perf_counter()
        # Index builds sort in memory up to this; the default 64MB spills large facts to disk.
        con.execute("set maintenance_work_mem = '256MB'")
        for table, schema, columns, restricted, personal in plans:
            qualified = f"{quote_ident(schema)}.{quote_ident(table)}"
            for column in indexed_columns(table, columns, restricted):
                con.execute(f"create index on {qualified} ({quote_ident(column)})")
            if restricted:
                con.execute(f"alter table {qualified} enable row level security")
                con.execute(region_policy_sql(schema, table))
            con.execute(f"analyze {qualified}")
            if personal:
                con.execute(masked_view_sql(marts, private, table, columns, personal))
                con.execute(
                    f"alter view {quote_ident(marts)}.{quote_ident(table)} owner to {quote_ident(cfg.owner_role)}"
                )
        published = {t.name for t in report.tables}
        for cube in cubes.values():
            needed = {t.name for t in _cube_tables(cube)}
            if not needed <= published:
                missing = ", ".join(sorted(needed - published))
                raise PublishError(f"cube {cube.name}: the warehouse lacks marts.{missing}; rebuild it")
            con.execute(cube_view_sql(cube, marts, cubes_schema, _view_types(duck, cube)))
            con.execute(
                f"alter view {quote_ident(cubes_schema)}.{quote_ident(cube.name)} owner to {quote_ident(cfg.owner_role)}"
            )
            report.views.append(f"cubes.{cube.name}")
        _grant(con, cfg, marts, cubes_schema)
        con.execute(f"grant usage on schema {quote_ident(private)} to {quote_ident(cfg.owner_role)}")
        con.execute(
            f"grant select on all tables in schema {quote_ident(private)} to {quote_ident(cfg.owner_role)}"
        )
        report.index_seconds = round(time.perf_counter() - index_started, 2)
        pause_point("swap_ready")

        swap_started = time.perf_counter()
        with con.transaction():
            con.execute(f"set local lock_timeout = {quote_literal(f'{cfg.lock_timeout_seconds}s')}")
            live = _check_live_schemas_are_ours(con)
            for schema in live:
                con.execute(
                    f"alter schema {quote_ident(schema)} rename to {quote_ident(old_schemas[schema])}"
                )
            for schema, loaded in load_schemas.items():
                con.execute(f"alter schema {quote_ident(loaded)} rename to {quote_ident(schema)}")
            con.execute(f"delete from {META_SCHEMA}.role_scope")
            with con.cursor() as cursor:
                cursor.executemany(
                    f"insert into {META_SCHEMA}.role_scope (role_name, region) values (%s, %s)",
                    _region_scope(cfg),
                )
            con.execute(f"delete from {META_SCHEMA}.clear_roles")
            with con.cursor() as cursor:
                cursor.executemany(
                    f"insert into {META_SCHEMA}.clear_roles (role_name) values (%s)",
                    [(role,) for role in settings.privacy.clear_roles],
                )
            con.execute(
                f"insert into {META_SCHEMA}.publications values (%s, now(), %s, %s, %s, %s)",
                [run, str(path), len(report.tables), report.rows, round(time.perf_counter() - started, 2)],
            )
            pause_point("swap")
            for schema in live:
                con.execute(f"drop schema {quote_ident(old_schemas[schema])} cascade")
        report.swap_seconds = round(time.perf_counter() - swap_started, 3)
    report.total_seconds = round(time.perf_counter() - started, 2)
    return report


def _view_types(duck: duckdb.DuckDBPyConnection, cube: Any) -> dict[str, str]:
    from cubes.views import view_sql

    described = duck.execute(f"describe {view_sql(cube).sql('duckdb')}").fetchall()
    return {name: postgres_type(dtype) or "text" for name, dtype, *_ in described}


def _cube_tables(cube: Any) -> list[Any]:
    from sqlglot import exp

    from cubes.views import view_sql

    return [t for t in view_sql(cube).find_all(exp.Table) if t.db == "marts"]


def _grant(con: Any, cfg: PublishConfig, marts: str, cubes_schema: str) -> None:
    def names(roles: Any) -> str:
        return ", ".join(quote_ident(r) for r in roles)

    mart_readers = [*cfg.analyst_roles, *cfg.region_roles, cfg.owner_role]
    cube_readers = [*cfg.analyst_roles, *cfg.cube_roles, *cfg.region_roles]
    con.execute(f"grant usage on schema {quote_ident(marts)} to {names(mart_readers)}")
    con.execute(f"grant select on all tables in schema {quote_ident(marts)} to {names(mart_readers)}")
    con.execute(f"grant usage on schema {quote_ident(cubes_schema)} to {names(cube_readers)}")
    con.execute(f"grant select on all tables in schema {quote_ident(cubes_schema)} to {names(cube_readers)}")


# ---------------------------------------------------------------------------------------------- CLI


def register(app: typer.Typer) -> None:
    """Add ``crmwh publish`` to the CLI."""

    @app.command("publish")
    def publish_command(
        warehouse: Annotated[
            Path | None,
            typer.Option("--warehouse", help="DuckDB file to publish (default: the live warehouse)."),
        ] = None,
        dsn: Annotated[
            str | None,
            typer.Option(
                "--dsn",
                help="libpq connection string of the target, without password (default: [publish] dsn).",
            ),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
        config: Annotated[Path | None, typer.Option("--config", help="Configuration file.")] = None,
    ) -> None:
        """Copy the marts and cube views into PostgreSQL for BI servers, swapped in atomically.

        Roles, row-level security and passwords come from [publish] in crmwh.toml. Exit status: 0 published,
        2 error (the previous publication stays live).
        """
        settings = load_settings(config)
        from warehouse.audit import audited

        with audited(settings, "publish", (warehouse or settings.warehouse_path).name) as audit:
            report = publish(settings, warehouse_path=warehouse, dsn=dsn)
            audit.details.update(tables=len(report.tables), views=len(report.views), rows=report.rows)
        typer.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.render())


def main() -> None:
    """``python -m warehouse.publish``: the publish command on its own (the same as ``crmwh publish``)."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    register(app)

    @app.callback()
    def _root() -> None:
        """crmwh publish."""

    try:
        app(["publish", *sys.argv[1:]], standalone_mode=True)
    except WarehouseError as exc:
        print(f"crmwh publish: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None


if __name__ == "__main__":
    main()
