"""The event bus: how the ledger, metrics, traces and logs hear about calls.

Execution emits; listeners must return quickly (enqueue, increment) because they run on
the request path. A listener that raises is logged and skipped, never fails a request.
"""

from __future__ import annotations

import logging

from switchpoint.execution.records import AttemptRecord, CallRecord

log = logging.getLogger("switchpoint.events")


class Listener:
    """Override what you need; every hook defaults to nothing."""

    def on_call_start(self, call: CallRecord) -> None:
        """A client request arrived (its `on_call` follows when it ends)."""

    def on_attempt(self, call: CallRecord, attempt: AttemptRecord) -> None:
        """An upstream attempt ended (successfully or not)."""

    def on_call(self, call: CallRecord) -> None:
        """A client request ended: its answer was fully sent, or it failed."""

    def on_breaker(self, provider: str, model: str, old: str, new: str, reason: str) -> None:
        """A circuit breaker changed state."""

    async def aclose(self) -> None:
        """Flush whatever is buffered; the gateway is shutting down."""


class EventBus:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def call_started(self, call: CallRecord) -> None:
        for listener in self._listeners:
            try:
                listener.on_call_start(call)
            except Exception:
                log.exception("listener %r failed on call start", listener)

    def attempt(self, call: CallRecord, attempt: AttemptRecord) -> None:
        for listener in self._listeners:
            try:
                listener.on_attempt(call, attempt)
            except Exception:
                log.exception("listener %r failed on attempt", listener)

    def call(self, call: CallRecord) -> None:
        for listener in self._listeners:
            try:
                listener.on_call(call)
            except Exception:
                log.exception("listener %r failed on call", listener)

    def breaker(self, provider: str, model: str, old: str, new: str, reason: str) -> None:
        for listener in self._listeners:
            try:
                listener.on_breaker(provider, model, old, new, reason)
            except Exception:
                log.exception("listener %r failed on breaker transition", listener)

    async def aclose(self) -> None:
        for listener in self._listeners:
            try:
                await listener.aclose()
            except Exception:
                log.exception("listener %r failed to close", listener)
