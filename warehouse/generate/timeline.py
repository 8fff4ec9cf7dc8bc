"""Time in the simulated world: seasonal sampling of moments and business-hours arithmetic.

All moments are int64 seconds since the Unix epoch (UTC); -1 means "no moment" (null).
Seasonality is sampled through the inverse of a cumulative day-weight curve, so every
vectorised draw inside a window follows the same Q4 peak, weekend dip and growth trend.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from warehouse.generate.config import HORIZON_END, HORIZON_START

NULL = -1
DAY = 86_400
HOUR = 3_600
BUSINESS_TZ = "America/New_York"
BUSINESS_START_HOUR = 9
BUSINESS_HOURS = 8
# Margin after the horizon so replies to the last messages still find a business morning.
TAIL_DAYS = 60

# Relative volume per calendar month (Q4 peak) and per weekday (Mon..Sun).
MONTH_FACTOR = np.array([0.85, 0.9, 1.0, 0.98, 1.0, 0.95, 0.88, 0.86, 1.02, 1.12, 1.32, 1.42])
WEEKDAY_FACTOR = {
    "b2b": np.array([1.05, 1.1, 1.1, 1.05, 0.95, 0.08, 0.05]),
    "b2c": np.array([0.95, 1.0, 1.0, 1.0, 1.05, 0.8, 0.7]),
}
# Local hour-of-day weights (0..23).
HOUR_WEIGHT = {
    "b2b": np.array([0, 0, 0, 0, 0, 0, 0.2, 1, 4, 9, 10, 10, 7, 9, 10, 9, 7, 3, 1, 0.5, 0.3, 0.1, 0, 0]),
    "b2c": np.array(
        [
            0.5,
            0.3,
            0.2,
            0.1,
            0.1,
            0.2,
            0.6,
            1.5,
            3,
            4,
            5,
            5.5,
            6,
            6,
            5.5,
            5,
            5,
            5.5,
            6.5,
            7.5,
            7.5,
            6,
            3.5,
            1.5,
        ]
    ),
}
YEARLY_GROWTH = 0.25


def epoch_seconds(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def us_holidays(year: int) -> list[date]:
    def nth_weekday(month: int, weekday: int, n: int) -> date:
        first = date(year, month, 1)
        shift = (weekday - first.weekday()) % 7
        return first + timedelta(days=shift + 7 * (n - 1))

    def last_weekday(month: int, weekday: int) -> date:
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        last = nxt - timedelta(days=1)
        return last - timedelta(days=(last.weekday() - weekday) % 7)

    return [
        date(year, 1, 1), nth_weekday(1, 0, 3), nth_weekday(2, 0, 3), last_weekday(5, 0), date(year, 6, 19),
        date(year, 7, 4), nth_weekday(9, 0, 1), nth_weekday(10, 0, 2), date(year, 11, 11),
        nth_weekday(11, 3, 4), date(year, 12, 25),
    ]  # fmt: skip


class Timeline:
    """Day-level calendars of the horizon plus the business clock of the contact center."""

    def __init__(self) -> None:
        self.start = HORIZON_START
        self.n_days = (HORIZON_END - HORIZON_START).days + 1 + TAIL_DAYS
        self.origin = epoch_seconds(HORIZON_START)
        self.horizon_end = epoch_seconds(HORIZON_END) + DAY - 1
        days = [HORIZON_START + timedelta(days=i) for i in range(self.n_days)]
        tz = ZoneInfo(BUSINESS_TZ)
        self.utc_offset = np.array(
            [int(datetime(d.year, d.month, d.day, 12, tzinfo=tz).utcoffset().total_seconds()) for d in days]
        )
        weekday = np.array([d.weekday() for d in days])
        month = np.array([d.month for d in days])
        holidays = {h for y in range(HORIZON_START.year, HORIZON_END.year + 2) for h in us_holidays(y)}
        is_holiday = np.array([d in holidays for d in days])
        years = np.arange(self.n_days) / 365.25
        trend = (1 + YEARLY_GROWTH) ** years
        self.cdf: dict[str, np.ndarray] = {}
        for kind, factor in WEEKDAY_FACTOR.items():
            weight = MONTH_FACTOR[month - 1] * factor[weekday] * trend
            if kind == "b2b":
                weight = np.where(is_holiday, weight * 0.1, weight)
            self.cdf[kind] = np.concatenate([[0.0], np.cumsum(weight)])
        self.hour_cdf = {k: np.cumsum(w) / w.sum() for k, w in HOUR_WEIGHT.items()}
        open_day = (weekday < 5) & ~is_holiday
        self.open_seconds = np.where(open_day, BUSINESS_HOURS * HOUR, 0).astype(np.int64)
        day_starts = self.origin + np.arange(self.n_days, dtype=np.int64) * DAY
        self.open_at = day_starts + BUSINESS_START_HOUR * HOUR - self.utc_offset
        self.business_before = np.concatenate([[0], np.cumsum(self.open_seconds)])

    def day_index(self, moments: np.ndarray) -> np.ndarray:
        return np.clip((moments - self.origin) // DAY, 0, self.n_days - 1)

    def sample(
        self, rng: np.random.Generator, low: np.ndarray, high: np.ndarray, kind: str = "b2c"
    ) -> np.ndarray:
        """One seasonal moment in [low, high] per row (vectorised inverse-CDF draw)."""
        low = np.asarray(low, dtype=np.int64)
        high = np.maximum(np.asarray(high, dtype=np.int64), low)
        cdf = self.cdf[kind]
        lo_day = self.day_index(low)
        hi_day = self.day_index(high)
        u = cdf[lo_day] + rng.random(low.shape) * (cdf[hi_day + 1] - cdf[lo_day])
        day = np.clip(np.searchsorted(cdf, u, side="right") - 1, 0, self.n_days - 1)
        moment = self.origin + day * DAY + self.local_time_of_day(rng, low.shape, kind) - self.utc_offset[day]
        outside = (moment < low) | (moment > high)
        fallback = low + (rng.random(low.shape) * (high - low + 1)).astype(np.int64)
        return np.where(outside, fallback, moment)

    def local_time_of_day(self, rng: np.random.Generator, shape: tuple[int, ...], kind: str) -> np.ndarray:
        hour = np.searchsorted(self.hour_cdf[kind], rng.random(shape), side="right")
        return np.minimum(hour, 23) * HOUR + rng.integers(0, HOUR, shape)

    def business_seconds(self, moments: np.ndarray) -> np.ndarray:
        """Business seconds elapsed from the horizon start to each moment."""
        day = self.day_index(moments)
        inside = np.clip(moments - self.open_at[day], 0, self.open_seconds[day])
        return self.business_before[day] + inside

    def add_business_seconds(self, moments: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """The wall-clock moment ``seconds`` of business time after each moment.

        Work that arrives out of hours waits for the next business morning.
        """
        target = self.business_seconds(moments) + np.maximum(np.asarray(seconds, dtype=np.int64), 1)
        business_after = self.business_before[1:]
        day = np.clip(np.searchsorted(business_after, target, side="left"), 0, self.n_days - 1)
        return np.maximum(self.open_at[day] + (target - self.business_before[day]), moments + 1)


def load_factor(agent: np.ndarray, moments: np.ndarray) -> np.ndarray:
    """How busy each item's agent is that day, relative to the average agent-day (1 = average)."""
    if not len(agent):
        return np.ones(0)
    key = agent.astype(np.int64) * 100_000 + (moments // DAY)
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    per_item = counts[inverse].astype(float)
    return per_item / per_item.mean()


def reply_moments(
    timeline: Timeline,
    rng: np.random.Generator,
    start: np.ndarray,
    median_business_seconds: np.ndarray,
    agent: np.ndarray,
    spread: float = 0.8,
) -> np.ndarray:
    """When an agent answers: a lognormal business-time delay, longer when the agent is loaded.

    Out-of-hours arrivals wait for the next business morning because the delay is counted on the
    business clock (09:00-17:00 New York, weekdays, US holidays excluded).
    """
    load = load_factor(agent, start)
    delay = median_business_seconds * np.exp(rng.normal(0, spread, len(start))) * np.sqrt(load)
    return timeline.add_business_seconds(start, np.maximum(delay, 20).astype(np.int64))
