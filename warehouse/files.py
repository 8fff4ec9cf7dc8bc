"""Durable file writes shared by the nightly, backups and erasure: after a crash a reader finds the old
file or the new one, never a torn one."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_path(path: Path) -> None:
    """Flush a file's (or a directory's, after a rename in it) data and metadata to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_identity(path: Path) -> dict[str, int]:
    """What the file system says about a file's version: device, inode, size and modification time."""
    info = path.stat()
    return {"device": info.st_dev, "inode": info.st_ino, "size": info.st_size, "mtime_ns": info.st_mtime_ns}


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write beside, fsync, rename over ``path`` (its directory is created if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with tmp.open("wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
