"""Redis as an optimisation that must never hold a request up: after a failure it is left
alone for a while (a hung Redis would otherwise cost every request its timeout), and
its going and coming back are each logged once."""

from __future__ import annotations

import logging
import time

# After a failure, Redis is skipped for this long; then one operation tries it again.
BACKOFF_S = 5.0


class RedisBackoff:
    __slots__ = ("_consequence", "_down", "_log", "_retry_at", "_what", "errors")

    def __init__(self, log: logging.Logger, what: str, consequence: str) -> None:
        self._log = log
        self._what = what  # "summary cache"
        self._consequence = consequence  # "summaries are not shared"
        self._down = False
        self._retry_at = 0.0
        self.errors = 0

    def resting(self) -> bool:
        """Redis failed recently: skip it."""
        return self._down and time.monotonic() < self._retry_at

    def failed(self, exc: Exception, backoff_s: float = BACKOFF_S) -> None:
        self.errors += 1
        self._retry_at = time.monotonic() + backoff_s
        if not self._down:
            self._down = True
            self._log.warning(
                "%s: Redis is unreachable (%s): %s", self._what, exc, self._consequence
            )

    def succeeded(self) -> None:
        if self._down:
            self._down = False
            self._log.info("%s: Redis is reachable again", self._what)
