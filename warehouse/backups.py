"""Backups of the warehouse file, ``crmwh restore`` and ``crmwh verify``.

Backups: when a nightly run replaces the live warehouse, the file it replaces is kept (a hard link, so no
copy is made: after the rename the backup is that file's only name) in ``<backups_dir>/<run_id>/`` together
with the lake manifest records that existed when it was built. ``<run_id>`` is the nightly run that published
the kept file (known from ``<backups_dir>/.live.json``, written at each publish); a live file nobody recorded
(built by hand, or restored from an unknown source) is kept as ``before-<run_id of the run replacing it>``.
The newest ``[backups] keep`` backups are kept.

``crmwh restore --run RUN_ID`` copies a backup beside the live file, checks it opens and has the marts,
keeps the current live file as a backup too and renames the copy onto the live path, all under the nightly
lock, so a reader sees either the old or the restored warehouse, never a mixture.

``crmwh verify`` checks the lake against its manifest: every file the manifest names is there, its
checksum (or, for records written before checksums were recorded, its row count) matches, the counts of
each load reconcile (rows read = landed + rejected + erased), and no Parquet file is there that no load
record names.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from warehouse.config import Settings, load_settings
from warehouse.errors import WarehouseError
from warehouse.files import file_identity, fsync_path, write_atomic

BACKUP_META = "backup.json"
BACKUP_WAREHOUSE = "warehouse.duckdb"
BACKUP_MANIFEST = "manifest"
LIVE_MARKER = ".live.json"
VERIFY_PROBLEMS_EXIT_CODE = 1
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class BackupError(WarehouseError):
    """A backup cannot be made, found or restored; the message says which and what to do."""


def backups_dir(settings: Settings) -> Path:
    return settings.backups_dir


# ------------------------------------------------------------------------------------------- backups


@dataclass(frozen=True)
class BackupInfo:
    run_id: str
    path: Path
    backed_up_at: str
    replaced_by: str | None
    warehouse_built_at: str | None
    size_bytes: int
    manifest_records: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "path": str(self.path),
            "backed_up_at": self.backed_up_at,
            "replaced_by": self.replaced_by,
            "warehouse_built_at": self.warehouse_built_at,
            "size_bytes": self.size_bytes,
            "manifest_records": self.manifest_records,
        }


def list_backups(settings: Settings) -> list[BackupInfo]:
    """Every complete backup, newest first."""
    directory = backups_dir(settings)
    found = []
    for meta_path in directory.glob(f"*/{BACKUP_META}") if directory.is_dir() else []:
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        warehouse = meta_path.parent / BACKUP_WAREHOUSE
        if not warehouse.is_file():
            continue
        found.append(
            BackupInfo(
                run_id=meta_path.parent.name,
                path=meta_path.parent,
                backed_up_at=str(meta.get("backed_up_at", "")),
                replaced_by=meta.get("replaced_by"),
                warehouse_built_at=meta.get("warehouse_built_at"),
                size_bytes=warehouse.stat().st_size,
                manifest_records=int(meta.get("manifest_records", 0)),
            )
        )
    return sorted(found, key=lambda b: (b.backed_up_at, b.run_id), reverse=True)


def note_live(settings: Settings, run_id: str) -> None:
    """Remember which run published the live file (its identity tells a later backup whether it changed)."""
    directory = backups_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    marker = {"run_id": run_id, **file_identity(settings.warehouse_path)}
    write_atomic(directory / LIVE_MARKER, json.dumps(marker).encode())


def _live_label(settings: Settings, replaced_by: str) -> str:
    marker_path = backups_dir(settings) / LIVE_MARKER
    try:
        marker = json.loads(marker_path.read_text(encoding="utf-8"))
        identity = file_identity(settings.warehouse_path)
        if {k: marker.get(k) for k in identity} == identity:
            label = str(marker["run_id"])
            if _SAFE_ID.match(label):
                return label
    except (OSError, ValueError, KeyError):
        pass
    return f"before-{replaced_by}"


def keep_live(settings: Settings, replaced_by: str) -> Path | None:
    """Keep the live warehouse file and the manifest records it was built from as a backup; None when
    there is no live file or backups are off (``keep = 0``). Call just before the live file is replaced."""
    return _keep_live(settings, replaced_by)[0]


def _keep_live(settings: Settings, replaced_by: str) -> tuple[Path | None, bool]:
    """The backup and whether it was made now (False: it already existed, or there is none)."""
    live = settings.warehouse_path
    if not live.is_file() or settings.backups.keep < 1:
        return None, False
    label = _live_label(settings, replaced_by)
    target = backups_dir(settings) / label
    built_at = datetime.fromtimestamp(live.stat().st_mtime, UTC)
    meta = {
        "run_id": label,
        "backed_up_at": datetime.now(UTC).isoformat(timespec="microseconds"),
        "replaced_by": replaced_by,
        "warehouse_built_at": built_at.isoformat(timespec="seconds"),
        "source_path": str(live),
    }
    if (target / BACKUP_WAREHOUSE).is_file():
        # The live file is a restored copy of this very backup: keep the backup, mark it recent.
        old = json.loads((target / BACKUP_META).read_text(encoding="utf-8"))
        write_atomic(target / BACKUP_META, json.dumps({**old, **meta}, indent=2).encode())
        return target, False
    partial = target.with_name(f".{label}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        _link_or_copy(live, partial / BACKUP_WAREHOUSE)
        wal = Path(f"{live}.wal")
        if wal.exists():
            shutil.copyfile(wal, partial / f"{BACKUP_WAREHOUSE}.wal")
        meta["manifest_records"] = _copy_manifest(settings.lake_dir, partial / BACKUP_MANIFEST, built_at)
        write_atomic(partial / BACKUP_META, json.dumps(meta, indent=2).encode())
        os.replace(partial, target)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise BackupError(
            f"cannot keep a backup of {live} in {target} ({exc.strerror}); fix backups.backups_dir "
            "or set backups.keep = 0"
        ) from None
    return target, True


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _copy_manifest(lake: Path, target: Path, built_at: datetime) -> int:
    """Copy the lake's load records that were complete when the warehouse file was last written."""
    from ingest.manifest import MANIFEST_DIR

    target.mkdir(parents=True, exist_ok=True)
    copied = 0
    for path in sorted((lake / MANIFEST_DIR).glob("*.json")) if (lake / MANIFEST_DIR).is_dir() else []:
        try:
            finished = json.loads(path.read_text(encoding="utf-8")).get("finished_at")
            when = datetime.fromisoformat(finished) if finished else None
        except (OSError, ValueError):
            when = None
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if when is None or when <= built_at:
            shutil.copyfile(path, target / path.name)
            copied += 1
    return copied


def prune_backups(settings: Settings, protect: Path | None = None) -> list[str]:
    """Delete all but the newest ``[backups] keep`` backups (never ``protect``); the removed run ids."""
    keep = max(settings.backups.keep, 1 if protect else 0)
    removed = []
    for index, backup in enumerate(list_backups(settings)):
        if index >= keep and backup.path != protect:
            shutil.rmtree(backup.path, ignore_errors=True)
            removed.append(backup.run_id)
    return removed


@contextlib.contextmanager
def replacing_live(settings: Settings, run_id: str) -> Iterator[Path | None]:
    """Around the rename that publishes ``run_id``'s file: keep the file being replaced, then record the new
    live file's run and prune old backups. If the rename fails, the backup just made is removed again."""
    kept, created = _keep_live(settings, run_id)
    try:
        yield kept
    except BaseException:
        # Not replaced after all: a hard link to the still-live file would change with it.
        if kept is not None and created:
            shutil.rmtree(kept, ignore_errors=True)
        raise
    note_live(settings, run_id)
    prune_backups(settings, protect=kept)


# ------------------------------------------------------------------------------------------- restore


def _backup_for(settings: Settings, run_id: str) -> Path:
    available = [b.run_id for b in list_backups(settings)]
    if _SAFE_ID.match(run_id) and run_id in available:
        return backups_dir(settings) / run_id
    shown = ", ".join(available[:10]) + (" ..." if len(available) > 10 else "")
    hint = f"available: {shown}" if available else f"there are no backups in {backups_dir(settings)} yet"
    raise BackupError(f"no backup of run {run_id!r}; {hint} (see `crmwh restore --list`)")


def restore(settings: Settings, run_id: str) -> dict[str, Any]:
    """Put the warehouse kept as backup ``run_id`` back in place, atomically, under the nightly lock."""
    import duckdb

    from warehouse.locking import RunLock
    from warehouse.runs import new_run_id

    source = _backup_for(settings, run_id) / BACKUP_WAREHOUSE
    live = settings.warehouse_path
    own_id = f"restore-{new_run_id()}"
    with RunLock(settings.runs_dir, own_id):
        live.parent.mkdir(parents=True, exist_ok=True)
        partial = live.with_name(f".{live.name}.{own_id}.tmp")
        try:
            shutil.copyfile(source, partial)
            if Path(f"{source}.wal").exists():
                shutil.copyfile(f"{source}.wal", f"{partial}.wal")
            try:
                with duckdb.connect(str(partial)) as con:
                    con.execute("CHECKPOINT")
                    marts = con.execute(
                        "SELECT count(*) FROM duckdb_tables() WHERE schema_name LIKE '%marts'"
                    ).fetchone()[0]
            except duckdb.Error as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise BackupError(
                    f"backup {run_id} does not open as a DuckDB database ({first}); not restored"
                ) from None
            if not marts:
                raise BackupError(f"backup {run_id} has no mart tables; not restored")
            fsync_path(partial)
            kept = keep_live(settings, own_id)
            orphan = Path(f"{live}.wal")
            if orphan.exists():
                os.replace(orphan, orphan.with_name(f"{orphan.name}.orphaned-{own_id}"))
            os.replace(partial, live)
            fsync_path(live.parent)
        finally:
            partial.unlink(missing_ok=True)
            Path(f"{partial}.wal").unlink(missing_ok=True)
        note_live(settings, run_id)
        removed = prune_backups(settings, protect=kept)
    result: dict[str, Any] = {
        "restored": run_id,
        "live_path": str(live),
        "mart_tables": marts,
        "previous_kept_as": kept.name if kept else None,
        "pruned": removed,
    }
    # A backup from before an erasure still holds the people erased since: erase them again at once.
    from ingest.tombstones import read_tombstone_hashes

    if read_tombstone_hashes(settings.tombstones_path):
        from warehouse.forget import forget

        result["erasures_reapplied_rows"] = forget(settings, reapply=True).warehouse_rows_erased
    return result


# -------------------------------------------------------------------------------------------- verify


@dataclass
class VerifyReport:
    """What ``crmwh verify`` checked and every problem it found (paths and counts only, never data)."""

    lake: str
    load_records: int = 0
    files_checked: int = 0
    checksums_checked: int = 0
    row_counts_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "lake": self.lake,
            "ok": self.ok,
            "load_records": self.load_records,
            "files_checked": self.files_checked,
            "checksums_checked": self.checksums_checked,
            "row_counts_checked": self.row_counts_checked,
            "problems": self.problems,
        }

    def render(self) -> str:
        head = (
            f"lake {self.lake}: {self.load_records} load record(s), {self.files_checked} file(s) checked "
            f"({self.checksums_checked} by checksum, {self.row_counts_checked} by row count)"
        )
        if self.ok:
            return f"{head}: OK"
        return "\n".join([f"{head}: {len(self.problems)} problem(s)", *(f"  - {p}" for p in self.problems)])


def verify_lake(settings: Settings) -> VerifyReport:
    """Check the lake against its manifest (see the module docstring)."""
    from ingest.land import REJECTS_DIR
    from ingest.manifest import MANIFEST_DIR
    from ingest.run import EMPTY_FILE, QUARANTINE_DIR

    lake = settings.lake_dir
    report = VerifyReport(lake=str(lake))
    if not lake.is_dir():
        raise BackupError(f"there is no lake at {lake} (run `crmwh ingest`, or set paths.lake_dir)")
    known: set[Path] = set()
    for record_path in sorted((lake / MANIFEST_DIR).glob("*.json")) if (lake / MANIFEST_DIR).is_dir() else []:
        name = record_path.relative_to(lake)
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            report.problems.append(f"{name}: load record is not readable JSON")
            continue
        report.load_records += 1
        if record.get("status") == "quarantined":
            _check_quarantined(lake, record, name, report, known)
            continue
        for index, entry in enumerate([record, *record.get("children", [])]):
            label = f"{name}" if index == 0 else f"{name} (child {entry.get('object')})"
            _check_entry(lake, record, entry, label, report, known)
    for path in sorted(lake.rglob("*.parquet")):
        relative = path.relative_to(lake)
        if relative.parts[0] in ("_tmp", MANIFEST_DIR) or path.name == EMPTY_FILE or path.resolve() in known:
            continue
        if relative.parts[0] == QUARANTINE_DIR:
            continue
        kind = "rejects file" if relative.parts[0] == REJECTS_DIR else "Parquet file"
        report.problems.append(f"{relative}: orphan {kind} that no load record names")
    return report


def _in_lake(lake: Path, recorded: str, tail: int) -> Path:
    """A recorded path inside this lake: as recorded when it is under the lake, else re-based by its last
    ``tail`` parts (the lake was moved or copied since the load)."""
    path = Path(recorded)
    if path.is_absolute() and path.resolve().is_relative_to(lake.resolve()):
        return path.resolve()
    return (lake / Path(*path.parts[-tail:])).resolve()


def _check_entry(
    lake: Path,
    record: dict[str, Any],
    entry: dict[str, Any],
    label: str,
    report: VerifyReport,
    known: set[Path],
) -> None:
    rows_read = entry.get("rows_read") or 0
    landed = entry.get("rows_landed") or 0
    rejected = entry.get("rows_rejected") or 0
    erased = entry.get("rows_erased") or 0
    if rows_read != landed + rejected + erased:
        erased_text = f" + {erased} erased" if erased else ""
        report.problems.append(
            f"{label}: counts do not reconcile: {rows_read} read != {landed} landed + {rejected} rejected{erased_text}"
        )
    for kind, tail, rows in (("landed", 3, landed), ("rejects", 4, rejected)):
        recorded = entry.get(f"{kind}_path")
        if not recorded:
            if rows:
                report.problems.append(f"{label}: {rows} row(s) {kind} but no {kind} file is recorded")
            continue
        path = _in_lake(lake, recorded, tail)
        known.add(path)
        shown = path.relative_to(lake.resolve()) if path.is_relative_to(lake.resolve()) else path
        if not path.is_file():
            report.problems.append(f"{shown}: missing ({kind} file of {label})")
            continue
        report.files_checked += 1
        expected = entry.get(f"{kind}_sha256")
        if expected:
            from ingest.manifest import file_sha256

            report.checksums_checked += 1
            if file_sha256(path) != expected:
                report.problems.append(f"{shown}: checksum mismatch (the file changed after it was landed)")
            continue
        report.row_counts_checked += 1
        counted = _parquet_rows(path)
        if counted is None:
            report.problems.append(f"{shown}: not a readable Parquet file")
        elif counted != rows:
            report.problems.append(f"{shown}: {counted} row(s) in the file, the load record says {rows}")


def _check_quarantined(
    lake: Path, record: dict[str, Any], name: Path, report: VerifyReport, known: set[Path]
) -> None:
    recorded = record.get("quarantine_path")
    if not recorded:
        report.problems.append(f"{name}: quarantined load without a quarantine_path")
        return
    path = _in_lake(lake, recorded, 2)
    known.add(path)
    if not path.is_file():
        report.problems.append(f"{path.relative_to(lake.resolve())}: missing (quarantined file of {name})")
        return
    from ingest.manifest import file_sha256

    report.files_checked += 1
    report.checksums_checked += 1
    if record.get("sha256") and file_sha256(path) != record["sha256"]:
        report.problems.append(f"{path.relative_to(lake.resolve())}: checksum mismatch (quarantined file)")


def _parquet_rows(path: Path) -> int | None:
    import pyarrow.parquet as pq

    try:
        return int(pq.read_metadata(path).num_rows)
    except (OSError, ValueError, pq.lib.ArrowException):
        return None


# ------------------------------------------------------------------------------------------- helpers


# ----------------------------------------------------------------------------------------------- CLI


def register(app: typer.Typer) -> None:
    """Add ``crmwh restore`` and ``crmwh verify`` to the CLI."""

    @app.command("restore")
    def restore_command(
        run: Annotated[
            str | None, typer.Option("--run", help="Run id of the backup to put back (see --list).")
        ] = None,
        list_only: Annotated[bool, typer.Option("--list", help="List the backups and exit.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
        config: Annotated[Path | None, typer.Option("--config", help="Configuration file.")] = None,
    ) -> None:
        """Put a previous warehouse back: each successful nightly keeps the file it replaced.

        The backup is copied beside the live file, checked (it opens, it has the marts) and renamed into
        place under the nightly lock; the current warehouse is kept as a backup too. Exit status: 0
        restored, 2 error (unknown run id, damaged backup), 75 a nightly run is in progress.
        """
        settings = load_settings(config)
        if list_only or run is None:
            backups = list_backups(settings)
            if as_json:
                typer.echo(json.dumps([b.to_dict() for b in backups], indent=2))
            elif not backups:
                typer.echo(f"no backups in {backups_dir(settings)} yet (each successful nightly makes one)")
            else:
                for b in backups:
                    typer.echo(
                        f"{b.run_id}  built {b.warehouse_built_at}  replaced by {b.replaced_by} at "
                        f"{b.backed_up_at[:19]}  {b.size_bytes / 1e6:.1f} MB  {b.manifest_records} load record(s)"
                    )
            if run is None and not list_only:
                raise BackupError(
                    "say which backup to restore with --run RUN_ID (see `crmwh restore --list`)"
                )
            return
        from warehouse.audit import audited
        from warehouse.locking import LOCKED_EXIT_CODE, LockBusyError

        try:
            with audited(settings, "restore", run) as audit:
                result = restore(settings, run)
                audit.details.update(
                    mart_tables=result["mart_tables"], previous_kept_as=result["previous_kept_as"]
                )
        except LockBusyError as exc:
            typer.echo(f"crmwh restore: {exc}", err=True)
            raise typer.Exit(LOCKED_EXIT_CODE) from None
        if as_json:
            typer.echo(json.dumps(result, indent=2))
        else:
            kept = f"; the replaced warehouse is kept as backup {result['previous_kept_as']}"
            typer.echo(
                f"restored backup {run} to {result['live_path']} ({result['mart_tables']} mart tables)"
                + (kept if result["previous_kept_as"] else "")
            )

    @app.command("verify")
    def verify_command(
        as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
        config: Annotated[Path | None, typer.Option("--config", help="Configuration file.")] = None,
    ) -> None:
        """Check the lake against its manifest: files present, checksums match, counts reconcile, no orphans.

        Exit status: 0 clean, 1 problems found (each one listed), 2 error.
        """
        settings = load_settings(config)
        from warehouse.audit import audited

        with audited(settings, "verify", settings.lake_dir.name) as audit:
            report = verify_lake(settings)
            audit.outcome = "ok" if report.ok else "error"
            audit.details.update(
                load_records=report.load_records,
                files_checked=report.files_checked,
                problems=len(report.problems),
            )
        typer.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.render())
        raise typer.Exit(0 if report.ok else VERIFY_PROBLEMS_EXIT_CODE)
