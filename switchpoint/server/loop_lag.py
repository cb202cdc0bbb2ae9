"""How late the event loop runs: the one measure of a worker's saturation that does not
depend on what it is doing.

A timer asks to run every `interval_s`; how much later than asked it actually runs is
the time any callback, request or stream chunk waited for the loop at that moment. On a
worker that keeps up it is under a millisecond (libuv's clock ticks in milliseconds);
on a saturated one it grows with the queue of ready work, and a garbage collection or
any other pause shows up as one late sample.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

# Ten samples a second: a pause or a saturation shows within 0.1 s; the timer itself
# costs the loop a few microseconds each time.
SAMPLE_EVERY_S = 0.1


class LoopLag:
    """Samples the running loop's lateness; `latest_s` is the last sample, and each one
    is also handed to `observe` (a histogram's, for the metrics)."""

    def __init__(
        self,
        observe: Callable[[float], None] | None = None,
        *,
        interval_s: float = SAMPLE_EVERY_S,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.latest_s = 0.0
        self._observe = observe
        self._interval_s = interval_s
        self._clock = clock
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is None:
            self._loop = loop
            self._schedule()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.latest_s = 0.0

    def _schedule(self) -> None:
        assert self._loop is not None
        # The loop's own clock decides when the timer is due; lateness is read from a
        # finer one, against the moment the timer should have run.
        self._timer = self._loop.call_later(self._interval_s, self._sample, self._clock())

    def _sample(self, scheduled_at: float) -> None:
        lag = max(0.0, self._clock() - scheduled_at - self._interval_s)
        self.latest_s = lag
        if self._observe is not None:
            self._observe(lag)
        self._schedule()
