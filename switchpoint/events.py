"""The event bus: how the ledger, metrics, traces and logs hear about calls.

Execution emits; listeners must return quickly (enqueue, increment) because they run on
the request path. A listener that raises is logged and skipped, never fails a request.
"""

from __future__ import annotations

import logging

from switchpoint.execution.records import AttemptRecord, CallRecord, SummarizationRecord

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

    def on_resilience(self, name: str, provider: str, model: str, reason: str, count: int) -> None:
        """A resilience counter moved by `count` for (provider, model). Names and reasons:

        - `retry`: the same target is tried again; reason = the failure kind.
        - `fallback`: the next target is tried; reason = the failure kind, or
          `breaker_open` for a target skipped because its breaker is open.
        - `retry_budget_exhausted`: a retry was not made (the target's budget is spent).
        - `malformed_events`: stream events skipped as undecodable; count = how many.
        - `continuation`: a stream cut mid-answer; reason = `attempted` (a target was
          asked to continue), `succeeded` (the answer was completed), `failed` (no
          target could continue: the client got an error event), `impossible` (tool
          calls had been streamed, which cannot be resumed).
        - `prefill_unsupported`: the target rejected a prefill; it is not asked again.
        - `sampling_dropped`: an attempt was sent without sampling settings its model
          refuses; reason = the settings, comma-separated.
        - `deadline`: the call's `request_deadline_s` ended it.
        """

    def on_summarization(self, call: CallRecord, record: SummarizationRecord) -> None:
        """A compression of the call's conversation ended (`record.outcome` says how);
        its summarizer calls were announced as attempts with reason `summarize`."""

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

    def resilience(
        self, name: str, provider: str, model: str, reason: str = "", count: int = 1
    ) -> None:
        for listener in self._listeners:
            try:
                listener.on_resilience(name, provider, model, reason, count)
            except Exception:
                log.exception("listener %r failed on resilience event", listener)

    def summarization(self, call: CallRecord, record: SummarizationRecord) -> None:
        for listener in self._listeners:
            try:
                listener.on_summarization(call, record)
            except Exception:
                log.exception("listener %r failed on summarization", listener)

    async def aclose(self) -> None:
        for listener in self._listeners:
            try:
                await listener.aclose()
            except Exception:
                log.exception("listener %r failed to close", listener)
