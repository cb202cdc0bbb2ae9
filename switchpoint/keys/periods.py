"""Virtual-key budget periods, in UTC calendar terms. A period is identified by the day (days since
the epoch) it starts on, which is also how the ledger's key spend is bucketed."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Literal

Period = Literal["day", "week", "month", "total"]
PERIODS: tuple[Period, ...] = ("day", "week", "month", "total")
_DAY_S = 86_400


def parse_period(text: str) -> Period:
    for period in PERIODS:
        if period == text.strip().lower():
            return period
    raise ValueError(f"unknown budget period {text!r} (day, week, month or total)")


def period_bounds(period: str, now: float) -> tuple[int, float]:
    """(first day of the current period, unix time the next one starts at)."""
    if period == "total":
        return 0, math.inf
    day = int(now // _DAY_S)
    if period == "day":
        return day, (day + 1) * _DAY_S
    if period == "week":  # ISO weeks: Monday to Sunday
        start = day - datetime.fromtimestamp(day * _DAY_S, UTC).weekday()
        return start, (start + 7) * _DAY_S
    moment = datetime.fromtimestamp(now, UTC)
    first = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (first + timedelta(days=32)).replace(day=1)
    return int(first.timestamp() // _DAY_S), following.timestamp()


def describe_reset(period: str, end: float) -> str:
    if period == "total" or math.isinf(end):
        return "it does not reset"
    stamp = datetime.fromtimestamp(end, UTC).strftime("%Y-%m-%dT%H:%MZ")
    return f"it resets at {stamp}"
