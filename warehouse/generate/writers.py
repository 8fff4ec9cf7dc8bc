"""From versioned records to files: pick the state as of a day (full) or the changes of a day
(delta), render the system's own format and write CSV (pyarrow) or JSON Lines (polars).

Every generated object is a frame of *versions*: one row per (record, change) with ``_rec`` (stable
record number), ``_ts`` (moment of the change, epoch seconds) and the record's columns as they
were after that change. The state as of a day is the last version before the day ends.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from warehouse.generate.dirt import UTF8_BOM

SF_TS = "%Y-%m-%dT%H:%M:%S.000Z"


@dataclass
class Extract:
    system: str
    name: str
    fmt: str  # "csv" or "jsonl"
    versions: pl.DataFrame
    render: Callable[[pl.DataFrame], pl.DataFrame]
    id_column: str | None = None  # column blanked in "missing id" dirt rows (CSV only)

    @property
    def object(self) -> str:
        return f"{self.system}.{self.name}"


def ts(column: str) -> pl.Expr:
    """Epoch seconds -> Salesforce/HubSpot timestamp text; negative -> null."""
    c = pl.col(column)
    return pl.when(c >= 0).then(pl.from_epoch(c, time_unit="s").dt.strftime(SF_TS)).otherwise(None)


def day(column: str) -> pl.Expr:
    c = pl.col(column)
    return pl.when(c >= 0).then(pl.from_epoch(c, time_unit="s").dt.strftime("%Y-%m-%d")).otherwise(None)


def money(column: str) -> pl.Expr:
    c = pl.col(column)
    cents = (c * 100).round(0).cast(pl.Int64)
    text = pl.concat_str(
        [(cents // 100).cast(pl.String), pl.lit("."), (cents % 100).cast(pl.String).str.zfill(2)]
    )
    return pl.when(c.is_null()).then(None).otherwise(text)


def sf_id(prefix: str, column: str) -> pl.Expr:
    """An 18-character Salesforce-style id from a record number."""
    c = pl.col(column)
    return (
        pl.when(c >= 0)
        .then(pl.concat_str([pl.lit(prefix + "8d"), c.cast(pl.String).str.zfill(13)]))
        .otherwise(None)
    )


def sort_versions(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(["_rec", "_ts"], maintain_order=True)


def as_of(frame: pl.DataFrame, cutoff: int) -> pl.DataFrame:
    """State as of ``cutoff`` (exclusive): the last version of every record created before it."""
    return frame.filter(pl.col("_ts") < cutoff).unique(subset="_rec", keep="last", maintain_order=True)


def changes(frame: pl.DataFrame, start: int, end: int) -> pl.DataFrame:
    """Records changed in [start, end), each in its state at the end of that window."""
    return frame.filter((pl.col("_ts") >= start) & (pl.col("_ts") < end)).unique(
        subset="_rec", keep="last", maintain_order=True
    )


def file_rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode()), 7])


def add_file_dirt(
    frame: pl.DataFrame, extract: Extract, rng: np.random.Generator, rate: float
) -> pl.DataFrame:
    """Exact duplicate rows and (CSV) rows whose id went missing, then a stable shuffle-free order."""
    if rate <= 0 or frame.height == 0:
        return frame
    n_dup = rng.binomial(frame.height, rate / 2)
    parts = [frame.with_row_index("_pos")]
    if n_dup:
        rows = np.sort(rng.choice(frame.height, n_dup, replace=False))
        parts.append(frame[rows].with_row_index("_pos").with_columns(pl.Series("_pos", rows).cast(pl.UInt32)))
    if extract.id_column:
        n_blank = rng.binomial(frame.height, rate / 4)
        if n_blank:
            rows = np.sort(rng.choice(frame.height, n_blank, replace=False))
            blank = frame[rows].with_columns(pl.lit(None, dtype=pl.String).alias(extract.id_column))
            parts.append(blank.with_row_index("_pos").with_columns(pl.Series("_pos", rows).cast(pl.UInt32)))
    return pl.concat(parts, how="vertical").sort("_pos", maintain_order=True).drop("_pos")


def write_csv(frame: pl.DataFrame, path: Path, bom: bool) -> int:
    buffer = io.BytesIO()
    table = frame.to_arrow()
    table = table.cast(pa.schema([pa.field(f.name, pa.string()) for f in table.schema]))
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(quoting_style="needed"))
    data = buffer.getvalue()
    with path.open("wb") as handle:
        if bom:
            handle.write(UTF8_BOM)
        handle.write(data)
    return path.stat().st_size


def write_jsonl(frame: pl.DataFrame, path: Path) -> int:
    frame.write_ndjson(path)
    return path.stat().st_size


def label(codes: pl.Expr, values) -> pl.Expr:
    """Code 0..n-1 -> its label (null for codes out of range)."""
    return codes.replace_strict(dict(enumerate(values)), default=None, return_dtype=pl.String)
