"""What an ingest run did, per file and object: rows read, landed, rejected (with reasons), drift."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text


@dataclass
class FileReport:
    path: str
    source: str | None
    object: str | None
    status: str
    load_id: str | None = None
    rows_read: int = 0
    rows_landed: int = 0
    rows_rejected: int = 0
    top_reasons: list[tuple[str, int]] = field(default_factory=list)
    drift_columns: list[str] = field(default_factory=list)
    message: str | None = None
    landed_path: str | None = None
    rejects_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["top_reasons"] = [{"reason": r, "rows": n} for r, n in self.top_reasons]
        return data


@dataclass
class IngestReport:
    files: list[FileReport] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_landed(self) -> int:
        return sum(f.rows_landed for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)

    @property
    def quarantined(self) -> list[FileReport]:
        return [f for f in self.files if f.status == "quarantined"]

    @property
    def exit_code(self) -> int:
        """0: everything landed; 1: some rows rejected or some files quarantined."""
        return 1 if self.rows_rejected or self.quarantined else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": [f.to_dict() for f in self.files],
            "totals": {
                "files": len(self.files),
                "rows_read": self.rows_read,
                "rows_landed": self.rows_landed,
                "rows_rejected": self.rows_rejected,
                "quarantined": len(self.quarantined),
                "skipped": sum(1 for f in self.files if f.status == "skipped"),
            },
            "exit_code": self.exit_code,
        }

    def render(self) -> Group:
        table = Table(title="crmwh ingest", show_lines=False)
        for name, justify in (
            ("file", "left"),
            ("object", "left"),
            ("status", "left"),
            ("read", "right"),
            ("landed", "right"),
            ("rejected", "right"),
            ("notes", "left"),
        ):
            table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
        for f in self.files:
            notes = []
            if f.message:
                notes.append(f.message)
            notes.extend(f"{n} × {r}" for r, n in f.top_reasons[:3])
            if f.drift_columns:
                shown = ", ".join(f.drift_columns[:6]) + (" …" if len(f.drift_columns) > 6 else "")
                notes.append(f"drift ({len(f.drift_columns)}): {shown}")
            style = {"quarantined": "red", "rejected": "red", "landed_with_rejects": "yellow"}.get(
                f.status, ""
            )
            table.add_row(
                "/".join(Path(f.path).parts[-2:]),
                f"{f.source or '?'}.{f.object or '?'}",
                Text(f.status, style=style),
                f"{f.rows_read:,}",
                f"{f.rows_landed:,}",
                f"{f.rows_rejected:,}",
                "\n".join(notes),
            )
        summary = Text(
            f"{len(self.files)} file(s): {self.rows_read:,} rows read, {self.rows_landed:,} landed, "
            f"{self.rows_rejected:,} rejected, {len(self.quarantined)} quarantined",
            style="bold",
        )
        return Group(table, summary)
