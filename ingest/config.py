"""Runtime knobs of the ingest engine that are not (yet) part of ``crmwh.toml``.

``memory_limit``, ``threads`` and ``files_at_once`` bound DuckDB; they are read from
``settings.ingest`` when the configuration defines them, else from these defaults.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from ingest.errors import IngestError
from warehouse.config import Settings

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
MEMORY_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
MEMORY_TEXT = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]i?b|b)?\s*", re.IGNORECASE)


@dataclass(frozen=True)
class EngineConfig:
    memory_limit: str = "2GB"
    threads: int = 0  # of the whole ingest, shared by the files landed at once; 0: all cores
    row_group_rows: int = 122_880
    max_line_bytes: int = 16 * 1024 * 1024  # larger values make DuckDB reserve GiB-sized buffers
    files_at_once: int = 2

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineConfig:
        ingest = settings.ingest
        return cls(
            memory_limit=str(getattr(ingest, "memory_limit", cls.memory_limit)),
            threads=int(getattr(ingest, "threads", cls.threads)),
            row_group_rows=max(10_000, int(getattr(ingest, "batch_rows", cls.row_group_rows))),
            files_at_once=max(1, int(getattr(ingest, "files_at_once", cls.files_at_once))),
        )

    def per_connection(self, connections: int) -> EngineConfig:
        """The config of one of ``connections`` concurrent connections: an equal share of the memory
        and of the threads (at least one). More threads than cores only makes the connections take
        turns: on 2 cores, 2 files with 1 thread each landed 8-14 % faster than with 2 threads each."""
        if connections <= 1:
            return self
        threads = max(1, (self.threads or os.cpu_count() or 1) // connections)
        return replace(
            self,
            memory_limit=f"{memory_bytes(self.memory_limit) // connections // 2**20}MiB",
            threads=threads,
        )


def memory_bytes(text: str) -> int:
    """Bytes of a DuckDB-style memory size (``2GB``, ``1.5GiB``, ``512MB``)."""
    match = MEMORY_TEXT.fullmatch(text)
    if match is None:
        raise IngestError(
            f"ingest.memory_limit {text!r} is not a memory size: write it like '2GB', '1536MiB' or '512MB'"
        )
    return int(float(match.group(1)) * MEMORY_UNITS[(match.group(2) or "").lower()])
