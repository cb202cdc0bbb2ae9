"""Refusing new chat calls while the worker is overloaded.

One worker process runs everything on one core. Past saturation, each call it takes on
waits behind all the others and delays them further: on the benchmark's machine, 2,000
concurrent slow streams on one worker added seconds to every stream's first token
(docs/performance.md). Refusing the excess at once, with a `Retry-After`, keeps the
calls in flight as fast as the worker can make them and tells clients (whose SDKs retry
503 and 529 with backoff) and load balancers to go elsewhere.

Two limits, each off unless configured (`server.max_in_flight`, `server.max_loop_lag_ms`):
the number of chat calls in flight, and how late the event loop runs (`server/loop_lag.py`),
which measures saturation whatever the calls cost. A refusal costs less than serving: no
call record, no ledger row, no access-log line; it is counted in
`switchpoint_shed_requests_total{reason}` and logged at most every ten seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from switchpoint.errors import GatewayError
from switchpoint.events import Listener
from switchpoint.execution.records import CallRecord
from switchpoint.log_throttle import LogThrottle
from switchpoint.server.loop_lag import LoopLag

log = logging.getLogger("switchpoint.server")

IN_FLIGHT = "in_flight"
LOOP_LAG = "loop_lag"
SHED_REASONS: tuple[str, ...] = (IN_FLIGHT, LOOP_LAG)

# What a refused client is told to wait before trying again (the header's whole seconds).
RETRY_AFTER_S = 1.0
_LOG_EVERY_S = 10.0


class LoadShedder(Listener):
    """Counts chat calls in flight (as a listener on the bus) and says whether a new one
    must be refused. `loop_lag` is attached by the server while it runs."""

    def __init__(
        self,
        *,
        max_in_flight: int | None,
        max_loop_lag_s: float | None,
        on_shed: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_in_flight = max_in_flight
        self.max_loop_lag_s = max_loop_lag_s
        self.loop_lag: LoopLag | None = None
        self._on_shed = on_shed
        self._started = 0
        self._finished = 0
        self._refusal_log = LogThrottle(_LOG_EVERY_S, clock)

    @property
    def enabled(self) -> bool:
        return self.max_in_flight is not None or self.max_loop_lag_s is not None

    @property
    def in_flight(self) -> int:
        return self._started - self._finished

    def on_call_start(self, call: CallRecord) -> None:
        self._started += 1

    def on_call(self, call: CallRecord) -> None:
        self._finished += 1

    def refusal(self, *, anthropic: bool) -> GatewayError | None:
        """None when a new call may start; otherwise the error to answer it with, counted."""
        limit = self.max_in_flight
        if limit is not None and self._started - self._finished >= limit:
            return self._refuse(IN_FLIGHT, f"{limit} calls are in flight", anthropic)
        lag_limit = self.max_loop_lag_s
        monitor = self.loop_lag
        if lag_limit is not None and monitor is not None and monitor.latest_s > lag_limit:
            behind = f"its event loop runs {monitor.latest_s * 1000:.0f} ms late"
            return self._refuse(LOOP_LAG, behind, anthropic)
        return None

    def _refuse(self, reason: str, why: str, anthropic: bool) -> GatewayError:
        if self._on_shed is not None:
            self._on_shed(reason)
        unlogged = self._refusal_log.due()
        if unlogged is not None:
            log.warning(
                "overloaded (%s): refused %d chat call(s) since the last such line",
                why,
                unlogged,
            )
        return GatewayError(
            "overloaded",
            f"switchpoint is overloaded ({why}); retry after {RETRY_AFTER_S:g} s",
            # Anthropic's own overload status, which its SDKs know; OpenAI's SDKs retry 503.
            status=529 if anthropic else 503,
            retry_after_s=RETRY_AFTER_S,
        )
