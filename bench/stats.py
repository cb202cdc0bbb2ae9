"""Percentiles of one run, and the spread of a figure across repeated runs."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50", 50.0),
    ("p90", 90.0),
    ("p99", 99.0),
    ("p99.9", 99.9),
)


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values (no interpolation: a reported
    p99 is a latency some request really had)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarize(values: Iterable[float]) -> dict[str, float]:
    """p50/p90/p99/p99.9/max/mean and the count, for one run's samples."""
    ordered = sorted(values)
    out: dict[str, float] = {name: percentile(ordered, pct) for name, pct in PERCENTILES}
    out["max"] = ordered[-1] if ordered else math.nan
    out["mean"] = statistics.fmean(ordered) if ordered else math.nan
    out["n"] = float(len(ordered))
    return out


@dataclass(frozen=True, slots=True)
class Spread:
    """One figure measured in several repeats: its median and how far the repeats differ."""

    median: float
    low: float
    high: float
    values: tuple[float, ...]

    @property
    def relative(self) -> float:
        """(max - min) / |median|: 0.1 means the repeats span 10% of the figure."""
        if not self.values or self.median == 0 or math.isnan(self.median):
            return math.nan
        return (self.high - self.low) / abs(self.median)

    def to_dict(self) -> dict[str, object]:
        return {
            "median": self.median,
            "min": self.low,
            "max": self.high,
            "relative_spread": self.relative,
            "values": list(self.values),
        }


def spread(values: Iterable[float]) -> Spread:
    finite = tuple(v for v in values if not math.isnan(v))
    if not finite:
        return Spread(math.nan, math.nan, math.nan, ())
    return Spread(statistics.median(finite), min(finite), max(finite), finite)
