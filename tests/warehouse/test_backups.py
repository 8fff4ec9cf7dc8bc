"""Backups kept when the live warehouse is replaced, ``crmwh restore`` and ``crmwh verify``, on real DuckDB files
and a lake landed by the real ingest from the hand-made inbox of the ingest tests."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest
import typer
from typer.testing import CliRunner

from ingest.manifest import MANIFEST_DIR, write_record
from ingest.run import ingest_paths
from warehouse.audit import read_records
from warehouse.backups import (
    LIVE_MARKER,
    BackupError,
    list_backups,
    register,
    replacing_live,
    restore,
    verify_lake,
)
from warehouse.config import BackupsConfig, PathsConfig, PrivacyConfig, Settings
from warehouse.locking import LockBusyError, RunLock

CASES = Path(__file__).resolve().parents[1] / "cases" / "ingest" / "inbox"


def make_settings(root: Path, keep: int = 3) -> Settings:
    return Settings(
        root=root,
        paths=PathsConfig(
            inbox_dir=root / "inbox",
            lake_dir=root / "lake",
            warehouse_path=root / "wh.duckdb",
            runs_dir=root / "runs",
        ),
        privacy=PrivacyConfig(audit_log_path=root / "audit.jsonl"),
        backups=BackupsConfig(keep=keep, backups_dir=root / "backups"),
    )


def write_warehouse(path: Path, version: str) -> Path:
    path.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.build_info as select ? as version", [version])
    return path


def version_of(path: Path) -> str:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("select version from marts.build_info").fetchone()[0]


def publish(settings: Settings, run_id: str) -> None:
    """What a nightly does: a new file renamed onto the live one, inside ``replacing_live``."""
    new = write_warehouse(settings.warehouse_path.with_name(f"new-{run_id}.duckdb"), run_id)
    with replacing_live(settings, run_id):
        os.replace(new, settings.warehouse_path)


# ------------------------------------------------------------------------------------------- backups


def test_replacing_the_live_file_keeps_it_with_its_manifest_and_prunes(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, keep=2)
    write_record(
        settings.lake_dir, {"load_id": "old", "status": "landed", "finished_at": "2020-01-01T00:00:00+00:00"}
    )
    publish(settings, "run-a")
    assert list_backups(settings) == []  # nothing was live before the first publish
    inode_of_a = settings.warehouse_path.stat().st_ino

    publish(settings, "run-b")
    [backup] = list_backups(settings)
    assert backup.run_id == "run-a" and backup.replaced_by == "run-b"
    kept = backup.path / "warehouse.duckdb"
    assert version_of(kept) == "run-a" and version_of(settings.warehouse_path) == "run-b"
    assert kept.stat().st_ino == inode_of_a  # a hard link: the replaced file itself, no copy
    assert sorted(p.name for p in (backup.path / "manifest").iterdir()) == ["old.json"]
    assert json.loads((settings.backups_dir / LIVE_MARKER).read_text())["run_id"] == "run-b"

    publish(settings, "run-c")
    publish(settings, "run-d")
    assert [b.run_id for b in list_backups(settings)] == ["run-c", "run-b"]


def test_a_live_file_nobody_recorded_is_kept_under_the_replacing_run(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    write_warehouse(settings.warehouse_path, "by-hand")
    publish(settings, "run-x")
    assert [b.run_id for b in list_backups(settings)] == ["before-run-x"]
    # changed in place after it was published (a by-hand `crmwh build`): no longer run-x's file
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("update marts.build_info set version = 'edited'")
    publish(settings, "run-y")
    assert [b.run_id for b in list_backups(settings)] == ["before-run-y", "before-run-x"]


def test_a_failed_rename_leaves_no_backup(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    publish(settings, "run-a")
    with pytest.raises(OSError), replacing_live(settings, "run-b"):
        os.replace(tmp_path / "does-not-exist", settings.warehouse_path)
    assert list_backups(settings) == []
    assert version_of(settings.warehouse_path) == "run-a"


def test_keep_zero_turns_backups_off(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, keep=0)
    publish(settings, "run-a")
    publish(settings, "run-b")
    assert list_backups(settings) == []


# ------------------------------------------------------------------------------------------- restore


def test_restore_puts_a_backup_back_and_keeps_the_current_one(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    for run_id in ("run-a", "run-b", "run-c"):
        publish(settings, run_id)
    result = restore(settings, "run-a")
    assert version_of(settings.warehouse_path) == "run-a"
    assert result["previous_kept_as"] == "run-c" and result["mart_tables"] == 1
    assert {b.run_id for b in list_backups(settings)} == {"run-a", "run-b", "run-c"}
    assert version_of(tmp_path / "backups" / "run-c" / "warehouse.duckdb") == "run-c"
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

    # the next publish keeps the restored file under its own run id again
    publish(settings, "run-d")
    assert version_of(tmp_path / "backups" / "run-a" / "warehouse.duckdb") == "run-a"


def test_restore_refuses_unknown_ids_damaged_backups_and_a_running_nightly(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    for run_id in ("run-a", "run-b"):
        publish(settings, run_id)
    with pytest.raises(BackupError, match=r"no backup of run 'run-z'; available: run-a"):
        restore(settings, "run-z")
    with pytest.raises(BackupError, match="no backup of run"):
        restore(settings, "../run-a")
    with RunLock(settings.runs_dir, "nightly-in-progress"), pytest.raises(LockBusyError):
        restore(settings, "run-a")
    assert version_of(settings.warehouse_path) == "run-b"

    (tmp_path / "backups" / "run-a" / "warehouse.duckdb").unlink()
    (tmp_path / "backups" / "run-a" / "warehouse.duckdb").write_bytes(b"not a database" * 100)
    with pytest.raises(BackupError, match="does not open as a DuckDB database"):
        restore(settings, "run-a")
    assert version_of(settings.warehouse_path) == "run-b"

    with duckdb.connect(str(tmp_path / "backups" / "run-a" / "warehouse.duckdb.new")) as con:
        con.execute("create table t as select 1 as x")
    os.replace(
        tmp_path / "backups" / "run-a" / "warehouse.duckdb.new",
        tmp_path / "backups" / "run-a" / "warehouse.duckdb",
    )
    with pytest.raises(BackupError, match="has no mart tables"):
        restore(settings, "run-a")
    assert version_of(settings.warehouse_path) == "run-b"


def test_restore_command_lists_restores_and_audits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings(tmp_path)
    for run_id in ("run-a", "run-b"):
        publish(settings, run_id)
    config = tmp_path / "crmwh.toml"
    config.write_text(
        f'[paths]\nwarehouse_path = "{settings.warehouse_path}"\nruns_dir = "{settings.runs_dir}"\n'
        f'lake_dir = "{settings.lake_dir}"\n'
        f'[privacy]\naudit_log_path = "{tmp_path / "audit.jsonl"}"\n'
        f'[backups]\nbackups_dir = "{tmp_path / "backups"}"\n'
    )
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    listed = runner.invoke(app, ["restore", "--list", "--json", "--config", str(config)])
    assert listed.exit_code == 0, listed.output
    assert [b["run_id"] for b in json.loads(listed.output)] == ["run-a"]
    unknown = runner.invoke(app, ["restore", "--run", "nope", "--config", str(config)])
    assert unknown.exit_code != 0 and isinstance(unknown.exception, BackupError)
    done = runner.invoke(app, ["restore", "--run", "run-a", "--config", str(config)])
    assert done.exit_code == 0, done.output
    assert "restored backup run-a" in done.output and version_of(settings.warehouse_path) == "run-a"
    records = read_records(tmp_path / "audit.jsonl")
    assert [(r["action"], r["target"], r["outcome"]) for r in records] == [
        ("restore", "nope", "error"),
        ("restore", "run-a", "ok"),
    ]


# -------------------------------------------------------------------------------------------- verify


@pytest.fixture
def landed(tmp_path: Path) -> Settings:
    settings = make_settings(tmp_path)
    shutil.copytree(CASES, settings.inbox_dir)
    report = ingest_paths(settings)
    assert report.rows_landed > 0 and report.rows_rejected > 0  # the case inbox has both
    return settings


def records(settings: Settings) -> dict[str, dict]:
    return {
        p.name: json.loads(p.read_text()) for p in sorted((settings.lake_dir / MANIFEST_DIR).glob("*.json"))
    }


def test_a_freshly_landed_lake_verifies_clean_by_checksum(landed: Settings) -> None:
    report = verify_lake(landed)
    assert report.problems == []
    manifest = records(landed)
    files = sum(
        1
        for record in manifest.values()
        for entry in [record, *record.get("children", [])]
        for key in ("landed_path", "rejects_path")
        if entry.get(key)
    )
    assert report.load_records == len(manifest) and report.files_checked == files > 0
    assert report.checksums_checked == files and report.row_counts_checked == 0


def test_verify_names_every_damaged_missing_orphan_and_unreconciled_file(landed: Settings) -> None:
    lake = landed.lake_dir
    manifest = records(landed)
    with_rejects = next(r for r in manifest.values() if r.get("rejects_path"))
    with_landed = next(r for r in manifest.values() if r.get("landed_path") and r is not with_rejects)
    damaged = Path(with_landed["landed_path"])
    with damaged.open("r+b") as handle:
        handle.seek(10)
        handle.write(b"\x00\x01\x02")
    missing = Path(with_rejects["rejects_path"])
    missing.unlink()
    orphan = damaged.with_name("stray.parquet")
    shutil.copyfile(Path(with_rejects["landed_path"] or with_landed["landed_path"]), orphan)
    name = f"{with_rejects['load_id']}.json"
    unreconciled = {**with_rejects, "rows_read": with_rejects["rows_read"] + 1}
    (lake / MANIFEST_DIR / name).write_text(json.dumps(unreconciled))

    report = verify_lake(landed)
    assert sorted(report.problems) == sorted(
        [
            f"{damaged.relative_to(lake)}: checksum mismatch (the file changed after it was landed)",
            f"{missing.relative_to(lake)}: missing (rejects file of _manifest/{name})",
            f"{orphan.relative_to(lake)}: orphan Parquet file that no load record names",
            f"_manifest/{name}: counts do not reconcile: {with_rejects['rows_read'] + 1} read != "
            f"{with_rejects['rows_landed']} landed + {with_rejects['rows_rejected']} rejected",
        ]
    )


def test_old_records_without_checksums_are_checked_by_row_count_and_erasures_reconcile(
    landed: Settings,
) -> None:
    lake = landed.lake_dir
    record = next(r for r in records(landed).values() if r.get("landed_path") and r["rows_landed"] > 1)
    path = lake / MANIFEST_DIR / f"{record['load_id']}.json"
    old_style = {k: v for k, v in record.items() if not k.endswith("_sha256")}
    path.write_text(json.dumps(old_style))
    assert verify_lake(landed).row_counts_checked == 1 and verify_lake(landed).problems == []

    landed_file = Path(record["landed_path"])
    with duckdb.connect() as con:
        con.execute(
            f"copy (select * from read_parquet('{landed_file}') limit 1) to '{landed_file}.new' (format parquet)"
        )
    os.replace(f"{landed_file}.new", landed_file)
    assert verify_lake(landed).problems == [
        f"{landed_file.relative_to(lake)}: 1 row(s) in the file, the load record says {record['rows_landed']}"
    ]
    # an erasure that removed the other rows and says so reconciles again
    erased = {**old_style, "rows_landed": 1, "rows_erased": record["rows_landed"] - 1}
    path.write_text(json.dumps(erased))
    assert verify_lake(landed).problems == []


def test_verify_command_exit_codes(landed: Settings, tmp_path: Path) -> None:
    config = tmp_path / "crmwh.toml"
    config.write_text(
        f'[paths]\nlake_dir = "{landed.lake_dir}"\n[privacy]\naudit_log_path = "{tmp_path / "audit.jsonl"}"\n'
    )
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    clean = runner.invoke(app, ["verify", "--config", str(config)])
    assert clean.exit_code == 0 and ": OK" in clean.output
    next(landed.lake_dir.glob("salesforce/*/*.parquet")).with_name("stray.parquet").write_bytes(b"x")
    broken = runner.invoke(app, ["verify", "--json", "--config", str(config)])
    assert broken.exit_code == 1
    assert json.loads(broken.output)["problems"] == [
        f"{next(landed.lake_dir.glob('salesforce/*/stray.parquet')).relative_to(landed.lake_dir)}: "
        "orphan Parquet file that no load record names"
    ]
    assert [r["outcome"] for r in read_records(tmp_path / "audit.jsonl")] == ["ok", "error"]
    missing_lake = dataclasses.replace(
        landed, paths=dataclasses.replace(landed.paths, lake_dir=tmp_path / "nowhere")
    )
    with pytest.raises(BackupError, match="there is no lake"):
        verify_lake(missing_lake)
