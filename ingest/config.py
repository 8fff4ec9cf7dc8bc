"""Runtime knobs of the ingest engine that are not (yet) part of ``crmwh.toml``.

``memory_limit`` and ``threads`` bound DuckDB; they are read from ``settings.ingest`` when the
configuration defines them, else from these defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from warehouse.config import Settings

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"


@dataclass(frozen=True)
class EngineConfig:
    memory_limit: str = "2GB"
    threads: int = 0  # 0: DuckDB's default (all cores)
    row_group_rows: int = 500_000
    max_line_bytes: int = 16 * 1024 * 1024  # larger values make DuckDB reserve GiB-sized buffers

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineConfig:
        ingest = settings.ingest
        return cls(
            memory_limit=str(getattr(ingest, "memory_limit", cls.memory_limit)),
            threads=int(getattr(ingest, "threads", cls.threads)),
            row_group_rows=max(10_000, int(getattr(ingest, "batch_rows", cls.row_group_rows))),
        )
