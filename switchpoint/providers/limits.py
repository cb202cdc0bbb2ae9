"""Time limits for one attempt, fixed when the attempt starts, and what it noticed."""

from __future__ import annotations

from dataclasses import dataclass, field

from switchpoint.transport.http_client import RequestProgress


@dataclass(slots=True)
class AttemptStats(RequestProgress):
    """What an adapter noticed during one attempt (read by execution for accounting),
    including whether its request reached the vendor (`request_sent`)."""

    # Stream events that could not be decoded, skipped rather than passed on.
    malformed_events: int = 0
    # The model's `output_limit_tokens`, when the request's output maximum was above it
    # and was capped to it in the body sent (the client is told: a shorter answer).
    output_capped: int | None = None
    # Sampling settings left out of the body sent, because the model refuses them
    # (`sampling_refusals.py`; the client is told).
    dropped_params: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AttemptLimits:
    connect_s: float
    # A stream's first content, counted from `started_at`.
    first_token_s: float
    # The longest gap between two pieces of content once a stream has started.
    idle_s: float
    # time.perf_counter() value by which the attempt must be over, whatever else happens.
    deadline: float
    # time.perf_counter() when the attempt started (0: when the adapter first looks).
    started_at: float = 0.0
    stats: AttemptStats = field(default_factory=AttemptStats)

    def first_token_remaining(self, now: float) -> float:
        """How long a stream may still wait for its first content (its headers too)."""
        start = self.started_at or now
        return max(0.0, min(start + self.first_token_s, self.deadline) - now)

    def bounded(self, seconds: float, now: float) -> float:
        """`seconds`, but never past the deadline (and never negative)."""
        return max(0.0, min(seconds, self.deadline - now))
