"""``generate_extracts``: build the simulated world once, write its full extract or daily deltas."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from warehouse.generate.config import DEFAULT_END_DATE, HORIZON_END, HORIZON_START, MIN_CUSTOMERS, SCALES
from warehouse.generate.errors import GenerateError
from warehouse.generate.generic import messages_extract, orders_extract
from warehouse.generate.hubspot import build_hubspot
from warehouse.generate.population import build_population
from warehouse.generate.salesforce import SALESFORCE_OBJECTS, build_salesforce
from warehouse.generate.timeline import DAY, Timeline, epoch_seconds
from warehouse.generate.writers import (
    Extract,
    add_file_dirt,
    as_of,
    changes,
    file_rng,
    write_csv,
    write_jsonl,
)

BOM_SHARE = 0.3


@dataclass(frozen=True)
class FileSummary:
    path: str
    object: str
    rows: int
    bytes: int


@dataclass
class GenerateSummary:
    target: str
    mode: str  # "full" or "delta"
    days: list[str]
    customers: int
    seed: int
    dirt_rate: float
    seconds: float = 0.0
    files: list[FileSummary] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["total_rows"] = self.total_rows
        data["total_bytes"] = self.total_bytes
        return data

    def render(self) -> Table:
        span = self.days[0] if len(self.days) == 1 else f"{self.days[0]} .. {self.days[-1]}"
        table = Table(
            title=f"crmwh generate: {self.mode} {span}, {self.customers:,} customers, seed {self.seed}, "
            f"dirt {self.dirt_rate:.0%}, {self.seconds:.1f}s -> {self.target}",
            title_justify="left",
        )
        table.add_column("file")
        table.add_column("object")
        table.add_column("rows", justify="right")
        table.add_column("bytes", justify="right")
        for f in self.files:
            shown = Path(f.path).relative_to(self.target) if f.path.startswith(self.target) else f.path
            table.add_row(str(shown), f.object, f"{f.rows:,}", f"{f.bytes:,}")
        table.add_section()
        table.add_row("total", "", f"{self.total_rows:,}", f"{self.total_bytes:,}")
        return table


def _customers(scale: str, customers: int | None) -> int:
    if customers is not None:
        if customers < MIN_CUSTOMERS:
            raise GenerateError(f"--customers must be at least {MIN_CUSTOMERS}, got {customers}")
        return customers
    if scale not in SCALES:
        raise GenerateError(f"unknown scale {scale!r}: choose one of {', '.join(SCALES)}")
    return SCALES[scale]


def _days(as_of_day: date | None, days: int | None, full: bool) -> tuple[str, list[date]]:
    if as_of_day is None:
        if days is not None:
            raise GenerateError("--days needs --as-of: the deltas of N days ending on --as-of")
        return "full", [DEFAULT_END_DATE]
    if not HORIZON_START <= as_of_day <= HORIZON_END:
        raise GenerateError(
            f"--as-of {as_of_day} is outside the simulated horizon {HORIZON_START} .. {HORIZON_END}"
        )
    if full:
        if days is not None:
            raise GenerateError("--full writes one extract as of --as-of; drop --days")
        return "full", [as_of_day]
    count = 1 if days is None else days
    if count < 1:
        raise GenerateError(f"--days must be at least 1, got {days}")
    first = as_of_day - timedelta(days=count - 1)
    if first < HORIZON_START:
        raise GenerateError(f"--days {count} reaches back before the horizon start {HORIZON_START}")
    return "delta", [first + timedelta(days=i) for i in range(count)]


CSV_OBJECTS = (*(f"salesforce.{name}" for name in SALESFORCE_OBJECTS), "billing.orders")
EXTRACT_COUNT = len(SALESFORCE_OBJECTS) + 7 + 2


def iter_world(seed: int, customers: int, dirt_rate: float) -> Iterator[Extract]:
    """Every object of every source as versioned records for the whole horizon, one source at a
    time so that a source's frames can be freed once written."""
    timeline = Timeline()
    population = build_population(seed, customers, timeline)
    salesforce = build_salesforce(seed, population, timeline, dirt_rate)
    case_threads = salesforce.case_threads
    yield from _drain(salesforce.extracts)
    del salesforce
    yield from _drain(build_hubspot(seed, population, timeline, dirt_rate))
    yield orders_extract(seed, population, timeline, dirt_rate)
    yield messages_extract(seed, population, timeline, dirt_rate, case_threads)


def _drain(extracts: list[Extract]) -> Iterator[Extract]:
    while extracts:
        yield extracts.pop(0)


def build_world(seed: int, customers: int, dirt_rate: float) -> list[Extract]:
    """All extracts at once (for inspection and tests; generation streams them)."""
    return list(iter_world(seed, customers, dirt_rate))


def _bom_objects(seed: int, dirt_rate: float) -> set[str]:
    if dirt_rate <= 0:
        return set()
    chosen = np.random.default_rng([seed, 1717]).permutation(len(CSV_OBJECTS))
    return {CSV_OBJECTS[i] for i in chosen[: max(1, round(BOM_SHARE * len(CSV_OBJECTS)))]}


def generate_extracts(
    target: Path,
    *,
    scale: str = "tiny",
    seed: int = 42,
    customers: int | None = None,
    as_of: date | None = None,
    days: int | None = None,
    dirt_rate: float = 0.02,
    progress: bool = False,
    full: bool = False,
) -> GenerateSummary:
    """Write the simulated company's extracts into ``target`` (the inbox).

    Without ``as_of``: the full extract as of DEFAULT_END_DATE. With ``as_of``: the delta of that day
    (or of ``days`` days ending on it); with ``full=True`` the full extract as of ``as_of``.
    """
    if not 0 <= dirt_rate <= 1:
        raise GenerateError(f"--dirt-rate is a share between 0 and 1, got {dirt_rate}")
    n_customers = _customers(scale, customers)
    mode, out_days = _days(as_of, days, full)
    started = time.perf_counter()
    target = Path(target)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GenerateError(f"cannot create the output folder {target}: {exc.strerror}") from None
    summary = GenerateSummary(
        str(target), mode, [d.isoformat() for d in out_days], n_customers, seed, dirt_rate
    )
    bar = Progress(console=Console(stderr=True), transient=True) if progress else nullcontext()
    with bar:
        task = bar.add_task("generating extracts", total=EXTRACT_COUNT * len(out_days)) if progress else None
        bom = _bom_objects(seed, dirt_rate)
        for extract in iter_world(seed, n_customers, dirt_rate):
            folder = target / extract.system
            folder.mkdir(parents=True, exist_ok=True)
            for out_day in out_days:
                summary.files.append(
                    _write_one(extract, folder, out_day, mode, seed, dirt_rate, extract.object in bom)
                )
                if progress:
                    bar.advance(task)
            # Let the frames go before the next source is built; the loop variable would keep them.
            del extract
    summary.seconds = round(time.perf_counter() - started, 2)
    return summary


def _write_one(
    extract: Extract, folder: Path, out_day: date, mode: str, seed: int, dirt_rate: float, bom: bool
) -> FileSummary:
    day_start = epoch_seconds(out_day)
    if mode == "full":
        selected = as_of(extract.versions, day_start + DAY)
        name = f"{extract.name}.{extract.fmt}"
    else:
        selected = changes(extract.versions, day_start, day_start + DAY)
        name = f"{extract.name}_{out_day.isoformat()}.{extract.fmt}"
    rendered = extract.render(selected)
    rng = file_rng(seed, f"{extract.object}/{name}")
    rendered = add_file_dirt(rendered, extract, rng, dirt_rate)
    path = folder / name
    size = write_csv(rendered, path, bom) if extract.fmt == "csv" else write_jsonl(rendered, path)
    return FileSummary(str(path), extract.object, rendered.height, size)


__all__ = ["FileSummary", "GenerateSummary", "build_world", "generate_extracts"]
