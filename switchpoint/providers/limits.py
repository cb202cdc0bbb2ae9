"""Time limits for one attempt, fixed when the attempt starts."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AttemptLimits:
    connect_s: float
    first_token_s: float
    idle_s: float
    # time.perf_counter() value by which the attempt must be over, whatever else happens.
    deadline: float

    def bounded(self, seconds: float, now: float) -> float:
        """`seconds`, but never past the deadline (and never negative)."""
        return max(0.0, min(seconds, self.deadline - now))
