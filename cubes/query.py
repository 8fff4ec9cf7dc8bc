"""The query model: what a user asks a cube, independent of SQL.

A query names measures (optionally with a time-intelligence variant, ``revenue@ytd``), levels on rows
and columns (``dimension.level``), filters on levels, drills along hierarchies, top/bottom N, ordering,
totals, and how the type-2 customer dimension is sliced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from cubes.errors import QueryError

FILTER_OPS = ("eq", "ne", "in", "not_in", "range", "gt", "gte", "lt", "lte")
TIME_INTELLIGENCE = ("previous_period", "same_period_last_year", "ytd")
ROLLING = re.compile(r"^rolling_(\d{1,2})m$")
CUSTOMER_VERSIONS = ("as_at", "current")


@dataclass(frozen=True)
class Filter:
    """A condition on a level. ``range`` takes (low, high), inclusive; ``in``/``not_in`` take any number."""

    level: str
    op: str
    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        if self.op not in FILTER_OPS:
            raise QueryError(
                f"filter on {self.level}: unknown operator {self.op!r} (one of {', '.join(FILTER_OPS)})"
            )
        expected = {"range": 2, "in": None, "not_in": None}.get(self.op, 1)
        if expected is not None and len(self.values) != expected:
            raise QueryError(
                f"filter on {self.level}: {self.op} takes {expected} value(s), got {len(self.values)}"
            )
        if not self.values:
            raise QueryError(f"filter on {self.level}: {self.op} needs at least one value")


@dataclass(frozen=True)
class Drill:
    """Replace ``level`` by its child (down) or parent (up) in a hierarchy; ``member`` keeps one member."""

    level: str
    direction: str = "down"
    member: Any = None

    def __post_init__(self) -> None:
        if self.direction not in ("down", "up"):
            raise QueryError(f"drill on {self.level}: direction must be 'down' or 'up'")


@dataclass(frozen=True)
class TopN:
    n: int
    measure: str
    bottom: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.n, int) or self.n < 1:
            raise QueryError(f"top/bottom N needs a positive whole number, got {self.n!r}")


@dataclass(frozen=True)
class OrderBy:
    field: str  # a level address or a measure name of the query
    descending: bool = False


@dataclass(frozen=True)
class MeasureRef:
    """A measure of the query, possibly shifted in time (``name@previous_period``)."""

    name: str
    time: str | None = None

    @property
    def alias(self) -> str:
        return self.name if self.time is None else f"{self.name}@{self.time}"

    @classmethod
    def parse(cls, text: str | MeasureRef) -> MeasureRef:
        if isinstance(text, MeasureRef):
            return text
        name, _, time = str(text).partition("@")
        if time and time not in TIME_INTELLIGENCE and not ROLLING.match(time):
            raise QueryError(
                f"measure {text!r}: unknown time intelligence {time!r} "
                f"(one of {', '.join(TIME_INTELLIGENCE)}, rolling_<N>m)"
            )
        return cls(name, time or None)


@dataclass(frozen=True)
class Query:
    cube: str
    measures: tuple[str | MeasureRef, ...]
    rows: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    filters: tuple[Filter, ...] = ()
    drills: tuple[Drill, ...] = ()
    top: TopN | None = None
    order: tuple[OrderBy, ...] = ()
    totals: bool = False
    customer_version: str = "as_at"
    limit: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for name in ("measures", "rows", "columns", "filters", "drills", "order"):
            value = getattr(self, name)
            if isinstance(value, str | Filter | Drill | OrderBy | MeasureRef):
                object.__setattr__(self, name, (value,))
            else:
                object.__setattr__(self, name, tuple(value))
        if not self.measures:
            raise QueryError(f"query on cube {self.cube}: name at least one measure")
        if self.customer_version not in CUSTOMER_VERSIONS:
            raise QueryError(f"customer_version must be one of {', '.join(CUSTOMER_VERSIONS)}")
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit < 1):
            raise QueryError("limit must be a positive whole number")
        levels = [*self.rows, *self.columns]
        if len(set(levels)) != len(levels):
            raise QueryError("a level may appear only once on rows and columns")

    @property
    def measure_refs(self) -> tuple[MeasureRef, ...]:
        return tuple(MeasureRef.parse(m) for m in self.measures)

    def with_(self, **changes: Any) -> Query:
        return replace(self, **changes)


_FILTER_PATTERN = re.compile(r"^\s*([A-Za-z_][\w]*\.[A-Za-z_][\w]*)\s*(>=|<=|!=|=|>|<)\s*(.*)$", re.S)


def parse_filter(text: str) -> Filter:
    """Parse the CLI filter syntax.

    ``level=v``, ``level=v1,v2`` (in), ``level!=v`` / ``level!=v1,v2`` (not in), ``level>=v``, ``level>v``,
    ``level<=v``, ``level<v``, ``level=low..high`` (inclusive range). Values stay text; the compiler converts
    them to the level's type.
    """
    match = _FILTER_PATTERN.match(text)
    if not match:
        raise QueryError(
            f"cannot read filter {text!r}: expected LEVEL=VALUE, LEVEL=V1,V2, LEVEL!=VALUE, LEVEL>=VALUE, "
            "LEVEL<VALUE or LEVEL=LOW..HIGH with LEVEL written dimension.level"
        )
    level, op, raw = match.group(1), match.group(2), match.group(3).strip()
    if op in ("=", "!=") and ".." in raw and op == "=":
        low, _, high = raw.partition("..")
        return Filter(level, "range", (low.strip(), high.strip()))
    if op in ("=", "!="):
        parts = tuple(p.strip() for p in raw.split(",")) if "," in raw else (raw,)
        if op == "=":
            return Filter(level, "eq" if len(parts) == 1 else "in", parts)
        return Filter(level, "ne" if len(parts) == 1 else "not_in", parts)
    return Filter(level, {">=": "gte", ">": "gt", "<=": "lte", "<": "lt"}[op], (raw,))


def parse_order(text: str) -> OrderBy:
    """``field`` or ``field:desc`` / ``-field``."""
    text = text.strip()
    if text.startswith("-"):
        return OrderBy(text[1:], True)
    name, _, direction = text.partition(":")
    if direction and direction.lower() not in ("asc", "desc"):
        raise QueryError(f"order {text!r}: direction must be asc or desc")
    return OrderBy(name, direction.lower() == "desc")
