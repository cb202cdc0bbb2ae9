"""Logging something that can happen thousands of times a second, at most every so often.

Dropped ledger records, failed trace exports and refused calls are counted in metrics
one by one; the log gets one line per interval saying how many happened since the last.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class LogThrottle:
    def __init__(self, every_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._every_s = every_s
        self._clock = clock
        self._last = float("-inf")
        self._unlogged = 0

    def due(self, count: int = 1) -> int | None:
        """Counts `count` more occurrences; when a line is due, how many to report (all
        since the last line), else None."""
        self._unlogged += count
        now = self._clock()
        if now - self._last < self._every_s:
            return None
        self._last = now
        unlogged, self._unlogged = self._unlogged, 0
        return unlogged
