"""Time limits for one attempt, fixed when the attempt starts, and what it noticed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from switchpoint.chat.stream import StreamEvent


@dataclass(slots=True)
class AttemptStats:
    """What an adapter noticed during one attempt (read by execution for accounting)."""

    # Stream events that could not be decoded, skipped rather than passed on.
    malformed_events: int = 0


class StreamLane:
    """A way for a stream's events to reach the client without waking the task that
    relays them: while `deliver` is set, an adapter may hand it the events of an upstream
    read from the connection's callback. `deliver` returns False when they cannot go that
    way (the client's socket is full, say), having done nothing with them: the adapter
    then passes them on as usual. Set by the stream's consumer only while it is waiting
    for the adapter's next batch, so events never overtake one another."""

    __slots__ = ("deliver",)

    def __init__(self) -> None:
        self.deliver: Callable[[list[StreamEvent]], bool] | None = None


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
    lane: StreamLane = field(default_factory=StreamLane)

    def first_token_remaining(self, now: float) -> float:
        """How long a stream may still wait for its first content (its headers too)."""
        start = self.started_at or now
        return max(0.0, min(start + self.first_token_s, self.deadline) - now)

    def bounded(self, seconds: float, now: float) -> float:
        """`seconds`, but never past the deadline (and never negative)."""
        return max(0.0, min(seconds, self.deadline - now))
