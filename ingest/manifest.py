"""The load manifest: one JSON record per ingested file under ``<lake>/_manifest/<load_id>.json``.

The record is written last, atomically, once every Parquet file of the load is in place: a load
without its record did not happen and is redone (to the same paths) by the next run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from warehouse.files import write_atomic

MANIFEST_DIR = "_manifest"
DONE_STATUSES = {"landed", "landed_with_rejects", "rejected", "uncontracted", "quarantined"}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(8 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def known_checksums(lake: Path) -> dict[tuple[str, int, int, int, int], str]:
    """sha256 of the files already loaded, keyed by path and file identity (``file_identity``).

    A nightly inbox keeps every earlier extract (gigabytes at large scale) and re-reading all of it to
    find the one new file cost seconds per run; a file whose path, inode, size and modification time
    are unchanged is the file that was hashed then, as for make and rsync. Anything else is hashed."""
    known: dict[tuple[str, int, int, int, int], str] = {}
    for record in read_manifest(lake).values():
        identity = record.get("file_identity")
        if identity and record.get("sha256") and record.get("status") in DONE_STATUSES:
            known[_identity_key(str(record["path"]), identity)] = str(record["sha256"])
    return known


def remember_identity(lake: Path, record: dict[str, Any], path: str, identity: dict[str, int]) -> None:
    """Add the file identity to the record of a load found again at the same path (records written
    before identities were kept, or a file copied back with a new mtime), so the next run skips hashing it."""
    if record.get("path") == path and record.get("file_identity") != identity:
        record = {**record, "file_identity": identity}
        write_atomic(manifest_path(lake, str(record["load_id"])), _record_bytes(record))


def checksum(
    path: Path, identity: dict[str, int], known: dict[tuple[str, int, int, int, int], str] | None = None
) -> str:
    """The file's sha256: from ``known`` when the file (``identity``, from ``file_identity``) is unchanged
    since it was hashed, else read."""
    key = _identity_key(str(path), identity)
    if known and key in known:
        return known[key]
    return file_sha256(path)


def _identity_key(path: str, identity: dict[str, int]) -> tuple[str, int, int, int, int]:
    return (
        path,
        int(identity["device"]),
        int(identity["inode"]),
        int(identity["size"]),
        int(identity["mtime_ns"]),
    )


def make_load_id(source: str, object_name: str, sha256: str) -> str:
    """Stable id of loading these bytes as this object: a re-run rewrites the same paths."""
    return hashlib.sha256(f"{source}/{object_name}/{sha256}".encode()).hexdigest()[:20]


def manifest_path(lake: Path, load_id: str) -> Path:
    return lake / MANIFEST_DIR / f"{load_id}.json"


def read_manifest(lake: Path) -> dict[str, dict[str, Any]]:
    """Every completed load record, keyed by load_id."""
    records: dict[str, dict[str, Any]] = {}
    directory = lake / MANIFEST_DIR
    if not directory.is_dir():
        return records
    for path in sorted(directory.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        records[record["load_id"]] = record
    return records


def read_record(lake: Path, load_id: str) -> dict[str, Any] | None:
    """The manifest record of one load, None when it was never recorded."""
    path = manifest_path(lake, load_id)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def write_record(lake: Path, record: dict[str, Any]) -> Path:
    record = with_checksums(record)
    path = manifest_path(lake, record["load_id"])
    write_atomic(path, _record_bytes(record))
    return path


def _record_bytes(record: dict[str, Any]) -> bytes:
    return json.dumps(record, indent=2, default=str, sort_keys=True).encode()


def with_checksums(record: dict[str, Any]) -> dict[str, Any]:
    """The record with ``landed_sha256`` / ``rejects_sha256`` of the Parquet files it and its children name,
    so ``crmwh verify`` can tell a damaged lake file from an intact one."""
    record = dict(record)
    if "children" in record:
        record["children"] = [dict(child) for child in record["children"]]
    for entry in (record, *record.get("children", [])):
        for key in ("landed_path", "rejects_path"):
            path = entry.get(key)
            if path and Path(path).is_file():
                entry[key.replace("_path", "_sha256")] = file_sha256(Path(path))
    return record
