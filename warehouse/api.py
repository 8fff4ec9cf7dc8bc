"""The HTTP cube API: ``create_app(settings)`` builds the FastAPI application that ``crmwh serve`` runs.

``GET /cubes`` lists the cubes, ``POST /query`` answers the same query model as ``crmwh query`` as JSON, CSV or
an Arrow IPC stream, ``GET /health`` tells the live build's time. Every data request needs a bearer token named
in ``[serve.tokens]``; a token of ``[serve.token_regions]`` sees only its region's customers, whatever the request
says. Each query opens the live warehouse file read-only in a fresh in-memory DuckDB instance (never a cached
one), so a nightly publish by rename is picked up by the next request and an answer in flight keeps reading the
file it opened. One JSON audit event per request goes to the ``crmwh.api.audit`` logger.
"""

import asyncio
import concurrent.futures
import csv
import hashlib
import hmac
import io
import json
import logging
import os
import stat
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import duckdb
import pyarrow as pa
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.exceptions import HTTPException as StarletteHTTPException

from cubes.catalog import catalog
from cubes.compiler import CompiledQuery, apply_drills
from cubes.definitions import get_cube
from cubes.engine import available_preaggregations, compile_cached, pivot_columns
from cubes.errors import CubeError, QueryError
from cubes.query import (
    CUSTOMER_VERSIONS,
    FILTER_OPS,
    Drill,
    Filter,
    OrderBy,
    Query,
    TopN,
    parse_filter,
    parse_order,
)
from warehouse.config import ServeConfig, Settings
from warehouse.errors import ConfigError
from warehouse.logs import log
from warehouse.report import plain

AUDIT_LOGGER = "crmwh.api.audit"
ARROW_STREAM = "application/vnd.apache.arrow.stream"
REGION_LEVEL = "customer.region"
MIN_TOKEN_LENGTH = 16
DETAIL_MAX_CHARS = 2000

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

audit_logger = logging.getLogger(AUDIT_LOGGER)


class ApiFailure(Exception):
    """An answer other than 200: status, a short error and a detail that says what to do."""

    def __init__(self, status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers


# ------------------------------------------------------------------------------------------ tokens


@dataclass(frozen=True)
class Principal:
    """Who is asking: the token's name (never its secret) and the region it is restricted to, if any."""

    name: str
    region: str | None = None


class TokenStore:
    """Bearer tokens by name. Only SHA-256 digests are kept, compared in constant time against every token."""

    def __init__(self, tokens: dict[str, tuple[str, str | None]]) -> None:
        self._entries = [
            (name, hashlib.sha256(secret.encode()).digest(), region)
            for name, (secret, region) in tokens.items()
        ]
        digests = [digest for _, digest, _ in self._entries]
        if len(set(digests)) != len(digests):
            raise ConfigError("serve.tokens: two token names share the same secret; give each its own")

    @classmethod
    def from_config(cls, serve: ServeConfig, root: Path, env: dict[str, str] | None = None) -> "TokenStore":
        env = dict(os.environ if env is None else env)
        return cls(
            {
                name: (_read_secret(name, source, root, env), serve.token_regions.get(name))
                for name, source in serve.tokens.items()
            }
        )

    def __len__(self) -> int:
        return len(self._entries)

    def authenticate(self, presented: str | None) -> Principal | None:
        if not presented:
            return None
        digest = hashlib.sha256(presented.encode()).digest()
        found: Principal | None = None
        for name, expected, region in self._entries:
            if hmac.compare_digest(digest, expected):
                found = Principal(name, region)
        return found


def _read_secret(name: str, source: str, root: Path, env: dict[str, str]) -> str:
    kind, _, where = source.partition(":")
    where = where.strip()
    if kind == "env":
        secret = env.get(where, "").strip()
        if not secret:
            raise ConfigError(f"serve.tokens.{name}: environment variable {where} is not set or empty")
    else:
        path = Path(where) if Path(where).is_absolute() else root / where
        try:
            mode = path.stat().st_mode
        except OSError:
            raise ConfigError(f"serve.tokens.{name}: token file {path} cannot be read") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"serve.tokens.{name}: token file {path} is readable by other users "
                f"(mode {stat.S_IMODE(mode):04o}); run chmod 600 {path}"
            )
        secret = path.read_text(encoding="utf-8").strip()
        if not secret:
            raise ConfigError(f"serve.tokens.{name}: token file {path} is empty")
    if len(secret) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"serve.tokens.{name}: the token is shorter than {MIN_TOKEN_LENGTH} characters; make one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return secret


# ------------------------------------------------------------------------------------------ request model

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Value = Annotated[str, StringConstraints(max_length=1000)] | int | float | bool


class FilterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: Name = Field(description="dimension.level, e.g. customer.segment")
    op: Literal[FILTER_OPS] = Field(description="eq, ne, in, not_in, range (inclusive), gt, gte, lt, lte")  # type: ignore[valid-type]
    values: list[Value] = Field(min_length=1, max_length=1000)


class DrillIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: Name
    direction: Literal["down", "up"] = "down"
    member: Value | None = Field(default=None, description="drill down keeping only this member")


class TopIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(ge=1, le=100_000)
    measure: Name | None = Field(default=None, description="default: the first measure of the query")
    bottom: bool = False


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: Name
    descending: bool = False


class QueryRequest(BaseModel):
    """The query model of ``crmwh query``. Filters and order also take the CLI's text form
    (``"customer.segment=SMB"``, ``"won:desc"``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "cube": "pipeline",
                    "measures": ["won", "win_rate", "won_amount@previous_period"],
                    "rows": ["date.month"],
                    "filters": [{"level": "customer.segment", "op": "in", "values": ["SMB", "Enterprise"]}],
                    "totals": True,
                }
            ]
        },
    )
    cube: Name
    measures: list[Name] = Field(
        min_length=1,
        max_length=64,
        description="names; name@ytd, @previous_period, @same_period_last_year, @rolling_3m",
    )
    rows: list[Name] = Field(default_factory=list, max_length=16)
    columns: list[Name] = Field(default_factory=list, max_length=16)
    filters: list[FilterIn | Annotated[str, StringConstraints(max_length=2000)]] = Field(
        default_factory=list, max_length=64
    )
    drills: list[DrillIn] = Field(default_factory=list, max_length=16)
    top: TopIn | None = None
    order: list[OrderIn | Name] = Field(default_factory=list, max_length=16)
    totals: bool = False
    customer_version: Literal[CUSTOMER_VERSIONS] = "as_at"  # type: ignore[valid-type]
    limit: int | None = Field(default=None, ge=1)

    def to_query(self) -> Query:
        filters = [f if isinstance(f, str) else Filter(f.level, f.op, tuple(f.values)) for f in self.filters]
        return Query(
            self.cube,
            tuple(self.measures),
            rows=tuple(self.rows),
            columns=tuple(self.columns),
            filters=tuple(parse_filter(f) if isinstance(f, str) else f for f in filters),
            drills=tuple(Drill(d.level, d.direction, d.member) for d in self.drills),
            top=TopN(self.top.n, self.top.measure or self.measures[0], self.top.bottom) if self.top else None,
            order=tuple(
                parse_order(o) if isinstance(o, str) else OrderBy(o.field, o.descending) for o in self.order
            ),
            totals=self.totals,
            customer_version=self.customer_version,
            limit=self.limit,
        )


def query_payload(query: Query) -> dict[str, Any]:
    """The JSON body of ``POST /query`` for a :class:`Query` (used by clients and the API benchmark)."""
    return {
        "cube": query.cube,
        "measures": [m if isinstance(m, str) else m.alias for m in query.measures],
        "rows": list(query.rows),
        "columns": list(query.columns),
        "filters": [
            {"level": f.level, "op": f.op, "values": [plain(v) for v in f.values]} for f in query.filters
        ],
        "drills": [
            {"level": d.level, "direction": d.direction, "member": plain(d.member)} for d in query.drills
        ],
        "top": {"n": query.top.n, "measure": query.top.measure, "bottom": query.top.bottom}
        if query.top
        else None,
        "order": [{"field": o.field, "descending": o.descending} for o in query.order],
        "totals": query.totals,
        "customer_version": query.customer_version,
        "limit": query.limit,
    }


def restrict(query: Query, principal: Principal) -> Query:
    """The query a restricted token may run: drills applied first (a drill up drops filters on its level), then
    the region filter added, so nothing in the request can remove or widen it."""
    if principal.region is None:
        return query
    cube = get_cube(query.cube)
    customer = cube.dimensions.get("customer")
    if customer is None or "region" not in customer.levels or set(cube.facts) - set(customer.joins):
        raise ApiFailure(
            403,
            "cube not available to this token",
            f"token {principal.name!r} sees only region {principal.region!r}, and cube {query.cube!r} has no "
            "customer region on every fact to restrict by",
        )
    drilled = apply_drills(cube, query)
    return drilled.with_(filters=(*drilled.filters, Filter(REGION_LEVEL, "eq", (principal.region,))))


# ------------------------------------------------------------------------------------------ running queries


@dataclass
class _OpenedFile:
    """One warehouse file opened read-only in its own in-memory DuckDB instance, shared by the requests that
    found it live; closed when it is no longer live and its last request is done."""

    con: duckdb.DuckDBPyConnection
    identity: tuple[int, ...]
    preaggregations: frozenset[str]
    users: int = 0
    retired: bool = False


def _identity(path: Path) -> tuple[int, ...]:
    info = path.stat()
    return (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)


class LiveWarehouse:
    """The live warehouse file, read-only. Every request looks at the file now at the path: a file published
    by rename (a new inode) is opened for the next request, while requests in flight keep reading the file they
    started on. An instance is opened with ``:memory:`` plus ``ATTACH``, so DuckDB never hands back a cached
    instance of the old file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._current: _OpenedFile | None = None

    @contextmanager
    def cursor(self) -> Iterator[tuple[duckdb.DuckDBPyConnection, frozenset[str]]]:
        opened = self._acquire()
        cursor = opened.con.cursor()
        try:
            cursor.execute("use warehouse")
            yield cursor, opened.preaggregations
        finally:
            cursor.close()
            self._release(opened)

    def close(self) -> None:
        with self._lock:
            if self._current is not None:
                self._current.retired = True
                if self._current.users == 0:
                    self._current.con.close()
                self._current = None

    def _acquire(self) -> _OpenedFile:
        if not self.path.exists():
            raise ApiFailure(
                503, "warehouse not available", "the warehouse has not been built yet; try again later"
            )
        with self._lock:
            identity = _identity(self.path)
            if self._current is None or self._current.identity != identity:
                fresh = self._open()
                if self._current is not None:
                    self._current.retired = True
                    if self._current.users == 0:
                        self._current.con.close()
                self._current = fresh
            self._current.users += 1
            return self._current

    def _open(self) -> _OpenedFile:
        escaped = str(self.path).replace("'", "''")
        for _ in range(5):
            before = _identity(self.path)
            con = duckdb.connect(":memory:")
            try:
                con.execute(f"attach '{escaped}' as warehouse (read_only)")
                con.execute("use warehouse")
                preaggregations = frozenset(available_preaggregations(con))
            except duckdb.Error:
                con.close()
                raise ApiFailure(
                    503,
                    "warehouse not available",
                    "the live warehouse file cannot be opened; try again later",
                ) from None
            # A publish between the two looks would leave it unclear which file was opened: open again.
            if _identity(self.path) == before:
                return _OpenedFile(con, before, preaggregations)
            con.close()
        raise ApiFailure(
            503, "warehouse not available", "the warehouse is being replaced; try again in a moment"
        )

    def _release(self, opened: _OpenedFile) -> None:
        with self._lock:
            opened.users -= 1
            if opened.retired and opened.users == 0:
                opened.con.close()


class QueryRunner:
    """Runs cube queries in worker threads: at most ``max_concurrent_queries`` at once, a bounded queue behind
    them, each interrupted after the time-out."""

    def __init__(self, warehouse_path: Path, serve: ServeConfig) -> None:
        self.warehouse = LiveWarehouse(warehouse_path)
        self.timeout_seconds = serve.query_timeout_ms / 1000
        self.capacity = serve.max_concurrent_queries + serve.max_queued_requests
        self.max_result_rows = serve.max_result_rows
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=serve.max_concurrent_queries, thread_name_prefix="crmwh-query"
        )
        self._pending = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.warehouse.close()

    async def run(self, query: Query) -> pa.Table:
        with self._lock:
            if self._pending >= self.capacity:
                raise ApiFailure(
                    503,
                    "server busy",
                    "too many queries are running or waiting; retry in a moment",
                    {"Retry-After": "1"},
                )
            self._pending += 1
        future = self._pool.submit(self._answer, query)
        future.add_done_callback(self._release)
        # The interrupt ends a running DuckDB query; this backstop also bounds the wait in the queue.
        backstop = 2 * self.timeout_seconds + 5
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), backstop)
        except TimeoutError:
            future.cancel()
            raise self._timed_out() from None

    def _release(self, _: "concurrent.futures.Future[pa.Table]") -> None:
        with self._lock:
            self._pending -= 1

    def _timed_out(self) -> ApiFailure:
        return ApiFailure(
            504,
            "query timed out",
            f"the query ran longer than {self.timeout_seconds:g} s and was stopped; narrow it with filters, "
            "fewer or coarser levels, or a top N",
        )

    def _answer(self, query: Query) -> pa.Table:
        with self.warehouse.cursor() as (cursor, preaggregations):
            compiled, sql = compile_cached(query, frozenset(preaggregations))
            timed_out = threading.Event()

            def interrupt() -> None:
                timed_out.set()
                cursor.interrupt()

            timer = threading.Timer(self.timeout_seconds, interrupt)
            timer.start()
            try:
                table = cursor.sql(sql, params=compiled.params).to_arrow_table()
            except duckdb.Error as exc:
                if timed_out.is_set():
                    raise self._timed_out() from None
                raise _query_failed(compiled, exc) from None
            finally:
                timer.cancel()
        if compiled.column_levels:
            table = pivot_columns(table, compiled)
        if table.num_rows > self.max_result_rows:
            raise ApiFailure(
                400,
                "answer too large",
                f"the answer has {table.num_rows} rows, more than this server's limit of {self.max_result_rows}; "
                "add filters, a limit or a top N, or use coarser levels",
            )
        return table


def _query_failed(compiled: CompiledQuery, exc: duckdb.Error) -> CubeError:
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, duckdb.CatalogException):
        return CubeError(
            f"cube {compiled.cube.name}: the warehouse lacks a table or column the cube reads ({first_line}); "
            "it needs a rebuild"
        )
    return CubeError(f"cube {compiled.cube.name}: the query failed ({first_line})")


# ------------------------------------------------------------------------------------------ responses


def json_answer(table: pa.Table, query: Query) -> dict[str, Any]:
    names = table.column_names
    columns = [table.column(n).to_pylist() for n in names]
    return {
        "cube": query.cube,
        "columns": [{"name": f.name, "type": str(f.type)} for f in table.schema],
        "rows": [
            {n: plain(v) for n, v in zip(names, values, strict=True)} for values in zip(*columns, strict=True)
        ]
        if names
        else [],
        "row_count": table.num_rows,
    }


def csv_answer(table: pa.Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.column_names)
    for record in table.to_pylist():
        writer.writerow(["" if v is None else plain(v) for v in record.values()])
    return buffer.getvalue()


def arrow_answer(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def negotiate(request: Request) -> str:
    explicit = request.query_params.get("format")
    if explicit is not None:
        if explicit not in ("json", "csv", "arrow"):
            raise ApiFailure(400, "unknown format", f"format={explicit!r}: use json, csv or arrow")
        return explicit
    accept = request.headers.get("accept", "").lower()
    if ARROW_STREAM in accept:
        return "arrow"
    if "text/csv" in accept:
        return "csv"
    return "json"


def error_response(
    status: int, error: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    if len(detail) > DETAIL_MAX_CHARS:
        detail = detail[:DETAIL_MAX_CHARS] + " ..."
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def _validation_detail(exc: RequestValidationError) -> tuple[int, str, str]:
    problems = []
    for item in exc.errors():
        if item.get("type") == "json_invalid":
            return 400, "malformed JSON", "the request body is not valid JSON; send a JSON object"
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "body"
        problems.append(f"{where}: {item.get('msg', 'invalid')}")
    return 422, "invalid request", "; ".join(problems) + " (see /docs for the query model)"


# ------------------------------------------------------------------------------------------ middleware


class _BodyTooLarge(Exception):
    pass


class GuardAndAudit:
    """Pure ASGI middleware: refuses bodies over the limit (413) without reading past it, and writes one
    audit event per request (who, what, outcome, duration); the endpoint adds the what to ``scope``."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, audit_trail: Any = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.audit_trail = audit_trail

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        audit: dict[str, Any] = {"request_id": uuid.uuid4().hex[:12], "who": "anonymous"}
        scope["crmwh.audit"] = audit
        status = {"code": 500, "sent": False}

        async def send_tracked(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["sent"] = message["status"], True
            await send(message)

        try:
            declared = dict(scope.get("headers") or []).get(b"content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
                raise _BodyTooLarge
            # Bodies are small (a query): read it whole, within the limit, then hand it on in one message.
            chunks: list[bytes] = []
            size = 0
            more = True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    break
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                if size > self.max_body_bytes:
                    raise _BodyTooLarge
                more = message.get("more_body", False)
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
                return await receive()

            await self.app(scope, replay, send_tracked)
        except _BodyTooLarge:
            if not status["sent"]:
                response = error_response(
                    413,
                    "request too large",
                    f"the request body is over this server's limit of {self.max_body_bytes} bytes",
                )
                await response(scope, receive, send_tracked)
        finally:
            audit.update(
                method=scope.get("method"),
                path=scope.get("path"),
                status=status["code"],
                outcome="ok" if status["code"] < 400 else "refused" if status["code"] < 500 else "failed",
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            log(audit_logger, "info", "api request", **audit)
            if self.audit_trail is not None:
                await asyncio.to_thread(self.audit_trail.write, dict(audit))


# ------------------------------------------------------------------------------------------ the app


def live_build(warehouse_path: Path) -> dict[str, Any]:
    """The live warehouse's build time (file modification time: a publish renames a finished file into place)
    and whether it opens read-only with its cube views."""
    if not warehouse_path.exists():
        return {"status": "unavailable", "reason": "the warehouse has not been built yet"}
    modified = datetime.fromtimestamp(warehouse_path.stat().st_mtime, UTC)
    info: dict[str, Any] = {
        "built_at": modified.isoformat(timespec="seconds"),
        "age_seconds": round((datetime.now(UTC) - modified).total_seconds()),
    }
    con = duckdb.connect(":memory:")
    try:
        escaped = str(warehouse_path).replace("'", "''")
        con.execute(f"attach '{escaped}' as warehouse (read_only)")
        views = con.execute(
            "select count(*) from information_schema.tables where table_catalog = 'warehouse' "
            "and table_schema = 'cubes'"
        ).fetchone()
    except duckdb.Error:
        return {"status": "unavailable", "reason": "the warehouse file cannot be opened", **info}
    finally:
        con.close()
    cube_views = int(views[0]) if views else 0
    status = "ok" if cube_views else "degraded"
    return {"status": status, "cube_views": cube_views, **info}


def create_app(settings: Settings, env: dict[str, str] | None = None) -> FastAPI:
    """The API application for ``settings``. Token secrets are read now (from ``env`` or the process
    environment, or from their files): a missing or badly protected secret is a :class:`ConfigError`."""
    serve = settings.serve
    tokens = TokenStore.from_config(serve, settings.root, env)
    runner = QueryRunner(settings.warehouse_path, serve)
    from warehouse.masking import (
        classified_columns,
        classified_levels,
        hash_personal_columns,
        masked_query_problem,
    )
    from warehouse.privacy import hash_salt

    classified = classified_columns(settings.root)
    salt = hash_salt(settings) if classified else ""
    app = FastAPI(
        title="crmwh cube API",
        description=(
            "Query the CRM warehouse's OLAP cubes. Send `Authorization: Bearer <token>`. "
            "`POST /query` answers JSON by default, CSV with `Accept: text/csv` or `?format=csv`, and an Arrow IPC "
            f"stream with `Accept: {ARROW_STREAM}` or `?format=arrow`."
        ),
        version="1",
    )
    app.state.serve_config = serve
    from warehouse.audit import ApiAuditTrail, filter_level

    audit_trail = ApiAuditTrail(settings)
    app.add_middleware(GuardAndAudit, max_body_bytes=serve.max_body_bytes, audit_trail=audit_trail)
    app.router.on_shutdown.append(runner.close)
    bearer = HTTPBearer(auto_error=False, description="a token named in [serve.tokens]")

    def authenticated(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Principal:
        principal = tokens.authenticate(credentials.credentials if credentials else None)
        if principal is None:
            detail = (
                "this server has no tokens configured, so it answers no data; add [serve.tokens] to the configuration"
                if not len(tokens)
                else "send Authorization: Bearer <token> with a valid token; ask the warehouse administrator for one"
            )
            raise ApiFailure(401, "authentication required", detail, {"WWW-Authenticate": "Bearer"})
        request.scope["crmwh.audit"]["who"] = principal.name
        return principal

    @app.exception_handler(ApiFailure)
    async def on_api_failure(_: Request, exc: ApiFailure) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.detail, exc.headers)

    @app.exception_handler(QueryError)
    async def on_query_error(_: Request, exc: QueryError) -> JSONResponse:
        return error_response(400, "invalid query", str(exc))

    @app.exception_handler(CubeError)
    async def on_cube_error(_: Request, exc: CubeError) -> JSONResponse:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return error_response(500, "query failed", first_line)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(*_validation_detail(exc))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(
            exc.status_code, str(exc.detail).lower(), f"{exc.detail}; see /docs for the endpoints"
        )

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = request.scope.get("crmwh.audit", {}).get("request_id")
        logging.getLogger("crmwh.api").error(
            "unexpected error answering request %s: %s", request_id, type(exc).__name__, exc_info=exc
        )
        return error_response(
            500,
            "internal error",
            f"the server could not answer (request {request_id}); the error is in its log",
        )

    @app.get("/health", summary="The live build's time and status (no token needed).")
    def health() -> JSONResponse:
        info = live_build(settings.warehouse_path)
        return JSONResponse(info, status_code=200 if info["status"] != "unavailable" else 503)

    @app.get("/cubes", summary="Cubes: dimensions, hierarchies, levels and measures.")
    def cubes(principal: Annotated[Principal, Depends(authenticated)]) -> dict[str, Any]:
        restriction = {REGION_LEVEL: principal.region} if principal.region else None
        return {"token": principal.name, "restricted_to": restriction, "cubes": catalog()}

    @app.post(
        "/query",
        summary="Answer a cube query.",
        responses={200: {"content": {"text/csv": {}, ARROW_STREAM: {}}}},
    )
    async def query(
        body: QueryRequest, request: Request, principal: Annotated[Principal, Depends(authenticated)]
    ) -> Response:
        audit = request.scope["crmwh.audit"]
        audit.update(
            cube=body.cube,
            measures=list(body.measures),
            levels=[*body.rows, *body.columns],
            filter_levels=[f.level if not isinstance(f, str) else filter_level(f) for f in body.filters],
        )
        fmt = negotiate(request)
        try:
            get_cube(body.cube)
        except CubeError as exc:
            raise ApiFailure(400, "invalid query", str(exc)) from None
        asked = restrict(body.to_query(), principal)
        personal = {}
        if principal.name not in settings.privacy.clear_tokens:
            cube = get_cube(body.cube)
            personal = classified_levels(cube, classified)
            problem = masked_query_problem(apply_drills(cube, asked), personal)
            if problem:
                raise ApiFailure(
                    403,
                    "personal data",
                    f"token {principal.name!r} sees personal data only as salted hashes, so {problem} is not "
                    "allowed; group by the level instead, or ask for a token listed in [privacy] clear_tokens",
                )
        table = await runner.run(asked)
        if personal:
            table = hash_personal_columns(table, personal, salt)
        audit["rows"] = table.num_rows
        if fmt == "csv":
            return Response(csv_answer(table), media_type="text/csv; charset=utf-8")
        if fmt == "arrow":
            return Response(arrow_answer(table), media_type=ARROW_STREAM)
        return Response(
            json.dumps(json_answer(table, asked), separators=(",", ":")), media_type="application/json"
        )

    from warehouse.explorer import mount_explorer

    mount_explorer(app)
    return app
