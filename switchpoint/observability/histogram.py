"""A fixed-bucket histogram as plain numbers: what a hot path can afford to observe into.

prometheus_client's own histogram takes a lock and walks its buckets on every
observation; this one does a binary search and two additions, and is turned into
Prometheus' cumulative form only when scraped.
"""

from __future__ import annotations

from bisect import bisect_left

# Request and attempt latencies, in seconds: LLM calls run from ~100 ms to minutes.
LATENCY_BUCKETS_S: tuple[float, ...] = (
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    20.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
)
# Time to first token, in seconds: shorter, and the interesting range is finer.
TTFT_BUCKETS_S: tuple[float, ...] = (
    0.025,
    0.05,
    0.1,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
    3.0,
    5.0,
    10.0,
    20.0,
    60.0,
)
# Garbage-collector pauses, in seconds: a young collection is well under a millisecond;
# one that walks thousands of in-flight streams' objects takes tens of milliseconds.
GC_PAUSE_BUCKETS_S: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
)
# How late the event loop runs a timer, in seconds: under a millisecond when it keeps up
# (libuv's clock ticks in milliseconds); seconds when it is saturated.
LOOP_LAG_BUCKETS_S: tuple[float, ...] = (
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
# Context sizes, in tokens: the seed's interesting lines are 128K, 200K, 600K and 1M.
TOKEN_BUCKETS: tuple[float, ...] = (
    1_000,
    4_000,
    16_000,
    32_000,
    64_000,
    128_000,
    200_000,
    400_000,
    600_000,
    1_000_000,
)


class Histogram:
    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        # One slot per bound (value <= bound) and a last one for +Inf.
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, int]]:
        """(le, count) pairs as Prometheus exposes them, ending with +Inf."""
        out: list[tuple[str, int]] = []
        running = 0
        for bound, count in zip(self.bounds, self.counts, strict=False):
            running += count
            out.append((_format_bound(bound), running))
        running += self.counts[-1]
        out.append(("+Inf", running))
        return out

    def merge(self, other: Histogram) -> None:
        for index, count in enumerate(other.counts):
            self.counts[index] += count
        self.sum += other.sum

    def quantile(self, q: float) -> float | None:
        """Estimated like PromQL's histogram_quantile: linear within the bucket."""
        total = self.count
        if total == 0:
            return None
        rank = q * total
        running = 0
        lower = 0.0
        for index, count in enumerate(self.counts):
            if running + count >= rank and count > 0:
                if index == len(self.bounds):
                    return self.bounds[-1]  # in +Inf: the highest finite bound, as PromQL does
                upper = self.bounds[index]
                return lower + (upper - lower) * ((rank - running) / count)
            running += count
            if index < len(self.bounds):
                lower = self.bounds[index]
        return self.bounds[-1]


def _format_bound(bound: float) -> str:
    # Prometheus' client libraries print bounds as floats ("0.5", "1.0", "1000.0").
    return repr(float(bound))
