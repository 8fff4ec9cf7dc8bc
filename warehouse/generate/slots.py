"""Turn per-record lists of changes (a fixed number of slots, -1 = unused) into version rows."""

from __future__ import annotations

import numpy as np
import polars as pl


def explode_slots(base: pl.DataFrame, times: np.ndarray, columns: dict[str, np.ndarray]) -> pl.DataFrame:
    """One row per used slot: the record's base columns, ``_ts`` = slot time and per-slot columns.

    Rows come out ordered by record then slot, which is the version order (times must not
    decrease along a record's slots).
    """
    rows, slot = np.nonzero(times >= 0)
    frame = base[rows] if len(rows) else base.clear()
    extra = {"_ts": times[rows, slot], "_slot": slot}
    extra.update({name: values[rows, slot] for name, values in columns.items()})
    return frame.with_columns([pl.Series(name, values) for name, values in extra.items()])


def group_offsets(sorted_keys: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and count of each group in an array sorted by group key 0..n_groups-1."""
    counts = np.bincount(sorted_keys, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return starts, counts


def repeat_index(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For counts per parent: the parent of each child and the child's rank within its parent."""
    parent = np.repeat(np.arange(len(counts)), counts)
    rank = np.arange(len(parent)) - np.repeat(np.cumsum(counts) - counts, counts)
    return parent, rank
