"""``crmwh ingest``: find extracts, read them, land them, quarantine what cannot be read, record it all."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console
from rich.progress import Progress

from ingest import readers
from ingest.config import EngineConfig
from ingest.contracts import ObjectContract, SourceContract, load_contracts
from ingest.errors import IngestError, UnreadableFileError
from ingest.land import LandResult, LoadTarget, empty_landed_select, land, write_parquet
from ingest.manifest import (
    DONE_STATUSES,
    checksum,
    file_sha256,
    known_checksums,
    make_load_id,
    read_record,
    remember_identity,
    write_record,
)
from ingest.names import object_name, split_file_name
from ingest.report import FileReport, IngestReport
from ingest.standardise import SQL_MACROS
from ingest.tombstones import ERASED_REASON, Tombstones, erase_raw, read_tombstone_hashes
from warehouse.config import Settings
from warehouse.files import file_identity, write_atomic

QUARANTINE_DIR = "_quarantine"
IGNORED_PREFIXES = (".", "_", "README", "LICENSE")
IGNORED_SUFFIXES = (".md", ".reason.json")
EMPTY_FILE = "_empty.parquet"
ENSURE_LAKE = -1  # the work item that writes the empty files, landed beside the first files
_QUARANTINE_LOCK = threading.Lock()


def ingest_paths(
    settings: Settings,
    paths: list[Path] | None = None,
    progress: bool = False,
    contracts: dict[str, SourceContract] | None = None,
    tombstones: Tombstones | None = None,
) -> IngestReport:
    """Ingest the given files/folders (default: the whole inbox) into the lake.

    Rows of people erased on request (``tombstones``, by default those of ``settings.tombstones_path``)
    are dropped before landing and counted as erased.
    """
    tombstones = _tombstones_for(settings, tombstones)
    contracts = contracts if contracts is not None else load_contracts()
    engine = EngineConfig.from_settings(settings)
    lake = settings.lake_dir
    roots = [Path(p) for p in paths] if paths else [settings.inbox_dir]
    for root in roots:
        if not root.exists():
            hint = " (run `crmwh generate` first, or set paths.inbox_dir)" if not paths else ""
            raise IngestError(f"{root}: no such file or directory{hint}")
    files = sorted(set(_discover(roots, lake)))
    known = known_checksums(lake)
    ingested_at = datetime.now(UTC).replace(tzinfo=None)
    claims = LoadClaims()

    def one(index: int, con: duckdb.DuckDBPyConnection) -> list[FileReport]:
        if index == ENSURE_LAKE:
            ensure_lake(settings, contracts, con=con)
            return []
        return ingest_file(
            con,
            settings,
            contracts,
            files[index],
            engine,
            ingested_at,
            f"f{index}",
            tombstones,
            known,
            claims,
        )

    # Largest first, so that no big file starts last while the other workers sit idle; the empty files
    # of every object are written first, beside the largest file (before the workers started, they took 0.12 s).
    order = [ENSURE_LAKE, *sorted(range(len(files)), key=lambda i: -_size(files[i]))]
    per_file: dict[int, list[FileReport]] = {}
    with _Workers(lake, engine, min(engine.files_at_once, len(order))) as workers:
        if progress:
            with Progress(console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task("ingest", total=len(files))
                for index, reports in workers.map(one, order):
                    per_file[index] = reports
                    if index == ENSURE_LAKE:
                        continue
                    bar.update(task, description=f"ingest {files[index].name}", advance=1)
        else:
            per_file.update(workers.map(one, order))
    report = IngestReport()
    for index in range(len(files)):
        report.files.extend(per_file[index])
    return report


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class LoadClaims:
    """One file per load id at a time: two identical files in one run land once, the second is skipped."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    @contextlib.contextmanager
    def hold(self, load_id: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(load_id, threading.Lock())
        with lock:
            yield


class _Workers:
    """``files_at_once`` threads, each landing whole files on its own DuckDB connection.

    DuckDB releases the GIL while it works, and each connection gets an equal share of the
    memory limit and of the threads, so the configured bounds hold whatever the number of workers.
    Once no file is waiting, a worker that finishes hands its threads to the files still running:
    otherwise the largest file of a run ends alone on one thread while the other cores sit idle.
    """

    def __init__(self, lake: Path, engine: EngineConfig, workers: int) -> None:
        self.lake = lake
        self.workers = max(1, workers)
        self.engine = engine.per_connection(self.workers)
        self.total_threads = engine.threads or os.cpu_count() or 1
        self._local = threading.local()
        self._opened: list[tuple[_connect, duckdb.DuckDBPyConnection]] = []
        self._guard = threading.Lock()
        self._waiting = 0
        self._running: dict[int, duckdb.DuckDBPyConnection] = {}
        self._threads: dict[int, int] = {}

    def __enter__(self) -> _Workers:
        self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="ingest")
        return self

    def _connection(self) -> duckdb.DuckDBPyConnection:
        con = getattr(self._local, "con", None)
        if con is None:
            opener = _connect(self.lake, self.engine)
            con = opener.__enter__()
            self._local.con = con
            with self._guard:
                self._opened.append((opener, con))
        return con

    def map(
        self, work: Callable[[int, duckdb.DuckDBPyConnection], list[FileReport]], order: list[int]
    ) -> Iterator[tuple[int, list[FileReport]]]:
        """(index, reports) of every file in ``order``, as they finish; the first error stops the rest."""
        with self._guard:
            self._waiting += len(order)
        futures = {self.pool.submit(self._run, work, i): i for i in order}
        for future in as_completed(futures):
            yield futures[future], future.result()

    def _run(
        self, work: Callable[[int, duckdb.DuckDBPyConnection], list[FileReport]], index: int
    ) -> list[FileReport]:
        con = self._connection()
        me = threading.get_ident()
        with self._guard:
            self._waiting -= 1
            self._running[me] = con
        try:
            return work(index, con)
        finally:
            with self._guard:
                del self._running[me]
                if not self._waiting:
                    self._share_threads()

    def _share_threads(self) -> None:
        """Spread all the threads over the files still running (called with the guard held).

        ``SET threads`` on a cursor of a busy connection takes effect at once: DuckDB's scheduler is per
        database, and the running statement picks the new threads up for its next tasks.
        """
        if not self._running:
            return
        share = max(1, self.total_threads // len(self._running))
        for me, con in self._running.items():
            if self._threads.get(me, self.engine.threads or self.total_threads) >= share:
                continue
            cursor = con.cursor()
            try:
                cursor.execute(f"SET threads = {share}")
            finally:
                cursor.close()
            self._threads[me] = share

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if kind is not None:
            # An error or Ctrl-C: files not started stay in the inbox for the next run, the running
            # ones are interrupted (their temporary Parquet names are never renamed into the lake).
            self.pool.shutdown(wait=False, cancel_futures=True)
            with self._guard:
                for _, con in self._opened:
                    con.interrupt()
        self.pool.shutdown(wait=True)
        for opener, _ in self._opened:
            opener.__exit__(None, None, None)


def _tombstones_for(settings: Settings, tombstones: Tombstones | None) -> Tombstones | None:
    """The tombstones to honour: the caller's, or those of the configured file. Landing without them
    would bring people erased on request back."""
    if tombstones is not None or not read_tombstone_hashes(settings.tombstones_path):
        return tombstones
    # The hashes are salted with the warehouse's salt, which lives on the warehouse side.
    from warehouse.forget import ingest_tombstones

    return ingest_tombstones(settings)


def ensure_lake(
    settings: Settings,
    contracts: dict[str, SourceContract] | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> list[Path]:
    """Write ``<lake>/<source>/<object>/_empty.parquet`` (zero rows, contract schema) for every object."""
    contracts = contracts if contracts is not None else load_contracts()
    engine = EngineConfig.from_settings(settings)
    lake = settings.lake_dir
    if con is None:
        with _connect(lake, engine) as own:
            return ensure_lake(settings, contracts, con=own)
    written = []
    for source in contracts.values():
        for contract in source.objects.values():
            path = lake / source.source / contract.name / EMPTY_FILE
            write_parquet(con, empty_landed_select(contract), path, engine)
            written.append(path)
    return written


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    contracts: dict[str, SourceContract],
    path: Path,
    engine: EngineConfig,
    ingested_at: datetime,
    prefix: str,
    tombstones: Tombstones | None = None,
    known: dict[tuple[str, int, int, int, int], str] | None = None,
    claims: LoadClaims | None = None,
) -> list[FileReport]:
    """Ingest one file: its main object plus any object exploded from it. Never raises for bad data.
    ``known``: checksums of files already loaded (``known_checksums``), to skip re-reading them;
    ``claims``: shared by the files landed concurrently, so that one load id lands once."""
    lake = settings.lake_dir
    started = datetime.now(UTC)
    source = detect_source(path, settings.ingest.source_aliases)
    identity = file_identity(path)
    sha256 = checksum(path, identity, known)
    if source is None or source not in contracts:
        known_sources = ", ".join(sorted(settings.ingest.source_aliases))
        why = (
            f"unknown source: no parent directory is a known source ({known_sources}); "
            "add the directory name to [ingest.source_aliases]"
            if source is None
            else f"source {source!r} has no contract in ingest/contracts/"
        )
        return [quarantine(lake, path, source, sha256, why, started)]
    source_contract = contracts[source]
    _, fmt, compression = split_file_name(path)
    object_ = object_name(path)
    contract = source_contract.object_for_file(object_)
    object_ = contract.name if contract else object_
    load_id = make_load_id(source, object_, sha256)
    if fmt is None:
        return [quarantine(lake, path, source, sha256, f"unsupported file type {path.name!r}", started)]
    with (claims or LoadClaims()).hold(load_id):
        return _ingest_load(
            con,
            lake,
            path,
            source,
            source_contract,
            contract,
            object_,
            fmt,
            compression,
            sha256,
            identity,
            load_id,
            engine,
            ingested_at,
            prefix,
            started,
            tombstones,
        )


def _ingest_load(
    con: duckdb.DuckDBPyConnection,
    lake: Path,
    path: Path,
    source: str,
    source_contract: SourceContract,
    contract: ObjectContract | None,
    object_: str,
    fmt: str,
    compression: str | None,
    sha256: str,
    identity: dict[str, int],
    load_id: str,
    engine: EngineConfig,
    ingested_at: datetime,
    prefix: str,
    started: datetime,
    tombstones: Tombstones | None,
) -> list[FileReport]:
    done = read_record(lake, load_id)
    if done is not None and done.get("status") in DONE_STATUSES - {"quarantined"}:
        remember_identity(lake, done, str(path), identity)
        return [
            FileReport(
                path=str(path),
                source=source,
                object=object_,
                status="skipped",
                load_id=load_id,
                message="already ingested (identical file)",
            )
        ]
    children = source_contract.children_of(contract.name) if contract and fmt in ("jsonl", "json") else []
    try:
        results = _read_and_land(
            con,
            path,
            fmt,
            compression,
            source,
            source_contract,
            contract,
            children,
            object_,
            load_id,
            engine,
            ingested_at,
            prefix,
            lake,
            tombstones,
        )
    except UnreadableFileError as exc:
        return [quarantine(lake, path, source, sha256, str(exc), started, object_)]
    finally:
        _drop_temp_tables(con, prefix)
    main, *rest = results
    record = {
        "load_id": load_id,
        "path": str(path),
        "source": source,
        "object": object_,
        "sha256": sha256,
        "size": path.stat().st_size,
        "file_identity": identity,
        "format": fmt,
        "status": main.status,
        "rows_read": main.rows_read,
        "rows_landed": main.rows_landed,
        "rows_rejected": main.rows_rejected,
        "rows_erased": main.rows_erased,
        "drift_columns": main.drift_columns,
        "top_reasons": [{"reason": r, "rows": n} for r, n in main.top_reasons],
        "landed_path": str(main.landed_path) if main.landed_path else None,
        "rejects_path": str(main.rejects_path) if main.rejects_path else None,
        "children": [_child_record(r) for r in rest],
        "ingested_at": ingested_at.isoformat(),
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
    }
    write_record(lake, record)
    return [_file_report(path, source, load_id, r) for r in results]


def _read_and_land(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str,
    compression: str | None,
    source: str,
    source_contract: SourceContract,
    contract: ObjectContract | None,
    children: list[ObjectContract],
    object_: str,
    load_id: str,
    engine: EngineConfig,
    ingested_at: datetime,
    prefix: str,
    lake: Path,
    tombstones: Tombstones | None = None,
) -> list[LandResult]:
    declared = contract.encoding if contract else source_contract.encoding
    encoding = (
        readers.sniff_encoding(path, compression, declared, empty_ok=fmt == "jsonl")
        if fmt != "parquet"
        else declared
    )
    if compression == "gzip":
        readers.check_gzip_complete(path)
    consumed = frozenset(readers.path_root(c.explode_from.path) for c in children if c.explode_from)
    with _plain_copy(path, fmt, compression) as readable:
        if fmt == "csv":
            raw = readers.read_csv(con, readable, prefix, encoding, engine.max_line_bytes)
        elif fmt == "jsonl":
            raw = readers.read_json_lines(
                con, readable, prefix, encoding, engine.max_line_bytes, contract, consumed
            )
        elif fmt == "json":
            raw = readers.read_json_array(con, readable, prefix, contract, consumed)
        else:
            raw = readers.read_parquet(con, readable, prefix)
    target = LoadTarget(lake, source, object_, load_id, str(path), ingested_at, prefix)
    erased = erase_raw(con, raw, contract, source, tombstones, prefix)
    results = [_count_erased(land(con, raw, contract, target, engine), erased)]
    for index, child in enumerate(children):
        child_prefix = f"{prefix}_c{index}"
        child_raw = readers.explode_children(con, raw, contract, child, child_prefix)  # type: ignore[arg-type]
        child_target = LoadTarget(lake, source, child.name, load_id, str(path), ingested_at, child_prefix)
        child_erased = erase_raw(con, child_raw, child, source, tombstones, child_prefix)
        results.append(_count_erased(land(con, child_raw, child, child_target, engine), child_erased))
    return results


def _count_erased(result: LandResult, erased: int) -> LandResult:
    """Erased rows were read but land nowhere: in the manifest as ``rows_erased``, never in the rejects."""
    if erased:
        result.rows_read += erased
        result.rows_erased = erased
        result.top_reasons = sorted([*result.top_reasons, (ERASED_REASON, erased)], key=lambda r: -r[1])
    return result


def detect_source(path: Path, aliases: dict[str, str]) -> str | None:
    """The source of a file: the nearest parent directory named in ``[ingest.source_aliases]``."""
    lowered = {k.lower(): v for k, v in aliases.items()}
    for parent in path.resolve().parents:
        if parent.name.lower() in lowered:
            return lowered[parent.name.lower()]
    return None


def quarantine(
    lake: Path,
    path: Path,
    source: str | None,
    sha256: str,
    reason: str,
    started: datetime,
    object_: str | None = None,
) -> FileReport:
    """Move an unreadable file to ``<lake>/_quarantine/`` next to ``<name>.reason.json``."""
    # Files land concurrently: two unreadable files of one name must not pick the same target.
    with _QUARANTINE_LOCK:
        directory = lake / QUARANTINE_DIR
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / path.name
        if target.exists() and file_sha256(target) != sha256:
            target = directory / f"{sha256[:12]}_{path.name}"
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)
        load_id = make_load_id(source or "_unknown", object_ or path.name, sha256)
        info: dict[str, Any] = {
            "file": path.name,
            "original_path": str(path),
            "source": source,
            "object": object_,
            "sha256": sha256,
            "reason": reason,
            "quarantined_at": datetime.now(UTC).isoformat(),
        }
        write_atomic(target.with_name(target.name + ".reason.json"), json.dumps(info, indent=2).encode())
        message = reason
        try:
            path.unlink()
        except OSError as exc:
            message = f"{reason} (copied to quarantine; could not remove the original: {exc.strerror})"
        write_record(
            lake,
            {
                "load_id": load_id,
                "path": str(path),
                "source": source,
                "object": object_,
                "sha256": sha256,
                "size": target.stat().st_size,
                "status": "quarantined",
                "rows_read": 0,
                "rows_landed": 0,
                "rows_rejected": 0,
                "drift_columns": [],
                "quarantine_path": str(target),
                "reason": reason,
                "started_at": started.isoformat(),
                "finished_at": datetime.now(UTC).isoformat(),
            },
        )
        return FileReport(
            path=str(path),
            source=source,
            object=object_,
            status="quarantined",
            load_id=load_id,
            message=message,
        )


def _discover(roots: list[Path], lake: Path) -> Iterator[Path]:
    lake = lake.resolve()
    for root in roots:
        candidates = [root] if root.is_file() else (p for p in root.rglob("*") if p.is_file())
        for path in candidates:
            resolved = path.resolve()
            if lake in resolved.parents:
                continue
            if path.name.startswith(IGNORED_PREFIXES) or path.name.endswith(IGNORED_SUFFIXES):
                continue
            yield path


class _connect:
    """A DuckDB connection bounded in memory, spilling to ``<lake>/_tmp``, timestamps in UTC."""

    def __init__(self, lake: Path, engine: EngineConfig) -> None:
        self.lake = lake
        self.engine = engine

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        self.lake.mkdir(parents=True, exist_ok=True)
        self.spill = Path(tempfile.mkdtemp(prefix="duckdb_", dir=self._tmp_root()))
        config: dict[str, Any] = {"memory_limit": self.engine.memory_limit, "temp_directory": str(self.spill)}
        if self.engine.threads:
            config["threads"] = self.engine.threads
        self.con = duckdb.connect(config=config)
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET enable_progress_bar = false")
        # Common-subexpression elimination hoists the fallbacks of the parsing macros (the TIMESTAMPTZ
        # cast inside ingest_date, trim/lower inside ingest_boolean, the amount regexp) out of their CASE
        # and COALESCE branches, so they ran for every row instead of only the rows the fast path missed:
        # 25% of the typing pass on the Salesforce Task extract.
        self.con.execute("SET disabled_optimizers = 'common_subexpressions'")
        self.con.execute(SQL_MACROS)
        return self.con

    def _tmp_root(self) -> Path:
        root = self.lake / "_tmp"
        root.mkdir(parents=True, exist_ok=True)
        return root

    def __exit__(self, *exc: object) -> None:
        self.con.close()
        shutil.rmtree(self.spill, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.spill.parent.rmdir()


class _plain_copy:
    """Parquet cannot be read through gzip: decompress such a file to a temporary copy first."""

    def __init__(self, path: Path, fmt: str, compression: str | None) -> None:
        self.path, self.fmt, self.compression = path, fmt, compression
        self.tmp: Path | None = None

    def __enter__(self) -> Path:
        if self.fmt != "parquet" or self.compression != "gzip":
            return self.path
        handle, name = tempfile.mkstemp(suffix=".parquet")
        os.close(handle)
        self.tmp = Path(name)
        with gzip.open(self.path, "rb") as src, self.tmp.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        return self.tmp

    def __exit__(self, *exc: object) -> None:
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)


def _drop_temp_tables(con: duckdb.DuckDBPyConnection, prefix: str) -> None:
    tables = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND starts_with(table_name, ?)",
        [prefix + "_"],
    ).fetchall()
    for (name,) in tables:
        con.execute(f'DROP TABLE IF EXISTS "{name}"')


def _child_record(result: LandResult) -> dict[str, Any]:
    return {
        "object": result.object,
        "status": result.status,
        "rows_read": result.rows_read,
        "rows_landed": result.rows_landed,
        "rows_rejected": result.rows_rejected,
        "rows_erased": result.rows_erased,
        "drift_columns": result.drift_columns,
        "top_reasons": [{"reason": r, "rows": n} for r, n in result.top_reasons],
        "landed_path": str(result.landed_path) if result.landed_path else None,
        "rejects_path": str(result.rejects_path) if result.rejects_path else None,
    }


def _file_report(path: Path, source: str, load_id: str, result: LandResult) -> FileReport:
    return FileReport(
        path=str(path),
        source=source,
        object=result.object,
        status=result.status,
        load_id=load_id,
        rows_read=result.rows_read,
        rows_landed=result.rows_landed,
        # The report counts erased rows as rejected (reason erased_on_request); their values went nowhere.
        rows_rejected=result.rows_rejected + result.rows_erased,
        top_reasons=result.top_reasons,
        drift_columns=result.drift_columns,
        message=result.message,
        landed_path=str(result.landed_path) if result.landed_path else None,
        rejects_path=str(result.rejects_path) if result.rejects_path else None,
    )
