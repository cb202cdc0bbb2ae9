"""A streamed call: free to fail over until the client has seen content, careful after.

`start()` tries targets until one produces its first content event (text, a tool call,
reasoning, or an immediate finish); nothing has been sent to the client before that, so
any failure up to there is retried or failed over like a non-streamed call. From then
on the stream is committed to that attempt, and `events()` relays it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from switchpoint.chat.request import ChatRequest
from switchpoint.chat.stream import (
    Finish,
    MessageStart,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
    UsageUpdate,
    merge_usage,
)
from switchpoint.errors import GatewayError
from switchpoint.execution.executor import Executor
from switchpoint.execution.failures import gateway_error_for
from switchpoint.execution.records import AttemptRecord, CallRecord
from switchpoint.execution.targets import Target
from switchpoint.providers.errors import ProviderError
from switchpoint.providers.limits import AttemptLimits

_COMMITTING = (TextDelta, ToolCallStart, ToolCallDelta, ThinkingDelta, Finish)


class StreamFailed(Exception):
    """The stream broke after the client had received part of it."""

    def __init__(self, error: GatewayError) -> None:
        super().__init__(error.message)
        self.error = error


class StreamRun:
    def __init__(self, executor: Executor, call: CallRecord, request: ChatRequest) -> None:
        self._executor = executor
        self._call = call
        self._request = request
        self._events: AsyncIterator[StreamEvent] | None = None
        self._buffer: list[StreamEvent] = []
        self._target: Target | None = None
        self.served: AttemptRecord | None = None
        self.text: list[str] = []

    async def start(self) -> None:
        async def attempt_fn(
            target: Target, attempt: AttemptRecord, limits: AttemptLimits
        ) -> AsyncIterator[StreamEvent]:
            events = target.adapter.stream(self._request, target.model, limits)
            try:
                await self._first_content(events, attempt)
            except BaseException:
                await _close(events)
                raise
            return events

        events, target, attempt = await self._executor.run_attempts(self._call, attempt_fn)
        self._events = events
        self._target = target
        self.served = attempt
        self._call.served = attempt

    async def _first_content(
        self, events: AsyncIterator[StreamEvent], attempt: AttemptRecord
    ) -> None:
        buffer: list[StreamEvent] = []
        async for event in events:
            if isinstance(event, UsageUpdate):
                attempt.usage = merge_usage(attempt.usage, event.usage)
            buffer.append(event)
            if isinstance(event, _COMMITTING):
                attempt.ttft_s = self._executor._clock() - attempt.started_at
                self._buffer = buffer
                return
        raise ProviderError("truncated", "stream ended before any content")

    async def events(self) -> AsyncIterator[StreamEvent]:
        """The committed stream's events. Raises `StreamFailed` if it breaks midway."""
        assert self._events is not None and self._target is not None and self.served is not None
        executor = self._executor
        attempt = self.served
        target = self._target
        text = self.text
        try:
            if not isinstance(self._buffer[0], MessageStart):
                yield MessageStart("", target.model)
            for event in self._buffer:
                if isinstance(event, TextDelta):
                    text.append(event.text)
                yield event
            self._buffer = []
            async for event in self._events:
                if isinstance(event, TextDelta):
                    text.append(event.text)
                elif isinstance(event, UsageUpdate):
                    attempt.usage = merge_usage(attempt.usage, event.usage)
                yield event
                if isinstance(event, Finish):
                    executor.end_attempt(self._call, target, attempt)
                    return
            raise ProviderError("truncated", "stream ended without finishing")
        except ProviderError as error:
            executor.end_attempt(self._call, target, attempt, error)
            raise StreamFailed(gateway_error_for(error, target)) from None
        except BaseException:
            if attempt.duration_s == 0.0:
                executor.end_attempt(self._call, target, attempt, outcome="cancelled")
            raise
        finally:
            await _close(self._events)


async def _close(events: AsyncIterator[StreamEvent]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()
