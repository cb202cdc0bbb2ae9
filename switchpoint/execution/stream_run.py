"""A streamed call: free to fail over until the client has seen content, careful after.

`start()` tries targets until one produces its first content event (text, a tool call,
reasoning, or an immediate finish); nothing has been sent to the client before that, so
any failure up to there is retried or failed over like a non-streamed call. From then
on the stream is committed, and `events()` relays it.

If the committed stream breaks (cut, stalled, an error event, ended without finishing),
the answer is completed when possible: a target that can continue an assistant turn
(the same one first, then the chain) is asked to continue from exactly the text already
sent, and only the continuation is streamed (`continuation.Join` drops any overlap).
Where nothing can continue it (tool calls were streamed, no target supports prefill,
every one fails, the deadline passes), `StreamFailed` is raised and the client gets an
error event: never a truncated answer that looks complete.

Usage reported to the client is that of the attempts whose content makes up the answer
(the cut attempt, with switchpoint's estimate when the provider never reported its
usage, plus each continuation); attempts that failed before sending anything are in the
call record (and its cost), not in the client's usage.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Sequence

from switchpoint.chat.request import ChatRequest
from switchpoint.chat.stream import (
    Finish,
    MessageStart,
    RefusalDelta,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
    UsageUpdate,
    VendorPart,
    merge_usage,
)
from switchpoint.chat.usage import Usage, tokens_from_chars
from switchpoint.errors import GatewayError
from switchpoint.execution.client_prefill import prefill_join
from switchpoint.execution.continuation import Join, continuation_request
from switchpoint.execution.executor import Executor, RequestRecovery
from switchpoint.execution.failures import gateway_error_for
from switchpoint.execution.records import AttemptRecord, CallRecord
from switchpoint.execution.targets import Target
from switchpoint.providers.errors import ProviderError
from switchpoint.providers.limits import AttemptLimits

log = logging.getLogger("switchpoint.execution")

# Exact types (the event classes are final): a set lookup, not a failing isinstance.
_COMMITTING = frozenset(
    {TextDelta, RefusalDelta, ToolCallStart, ToolCallDelta, ThinkingDelta, Finish, VendorPart}
)
# A segment's buffer once relayed: shared and immutable, no object per stream.
_NO_EVENTS: tuple[StreamEvent, ...] = ()


class StreamFailed(Exception):
    """The stream broke after the client had received part of it."""

    def __init__(self, error: GatewayError) -> None:
        super().__init__(error.message)
        self.error = error


class _Segment:
    """One attempt's part of the answer."""

    __slots__ = ("attempt", "buffer", "events", "join", "limits", "output_chars", "target")

    def __init__(
        self,
        events: AsyncIterator[list[StreamEvent]],
        target: Target,
        attempt: AttemptRecord,
        limits: AttemptLimits,
        buffer: Sequence[StreamEvent],
        join: Join | None,
    ) -> None:
        self.events = events
        self.target = target
        self.attempt = attempt
        self.limits = limits
        self.buffer = buffer
        self.join = join
        # Characters of output the attempt generated (text, reasoning, tool calls): the
        # vendor bills them all, so a cut before its usage report is estimated from them.
        self.output_chars = 0


class StreamRun:
    def __init__(
        self,
        executor: Executor,
        call: CallRecord,
        request: ChatRequest,
        *,
        recover: RequestRecovery | None = None,
    ) -> None:
        self._executor = executor
        self._call = call
        self._request = request
        # Summarizes the request after a provider's context-length error (hierarchical).
        self._recover = recover
        self._segment: _Segment | None = None
        self.served: AttemptRecord | None = None
        # What the client has received: the answer's text, and whether tool calls or
        # reasoning were part of it.
        self.text: list[str] = []
        self._sent_tools = False
        # A vendor's own part (`VendorPart`) was begun and not yet ended: a cut now
        # would leave it open, which text cannot continue.
        self._vendor_part_open = False
        # Usage of the finished attempts whose content is part of the answer.
        self._usage_before = Usage()
        self._relaying = False

    @property
    def continued(self) -> bool:
        return self._call.continuations > 0

    # --- before the first content ----------------------------------------------------
    async def start(self) -> None:
        async def attempt_fn(
            target: Target, attempt: AttemptRecord, limits: AttemptLimits
        ) -> tuple[AsyncIterator[list[StreamEvent]], list[StreamEvent]]:
            return await self._open(self._request, target, attempt, limits)

        recover = self._recover

        async def on_context_length(target: Target, error: ProviderError) -> bool:
            # Nothing has reached the client yet: the summarized request replaces the
            # original for every later attempt, continuations included.
            assert recover is not None
            replaced = await recover(target, self._request, error)
            if replaced is None:
                return False
            self._request = replaced
            return True

        original = self._request

        def restore() -> None:
            self._request = original

        (events, buffer), target, attempt, limits = await self._executor.run_attempts(
            self._call,
            attempt_fn,
            recover=on_context_length if recover is not None else None,
            restore=restore,
        )
        join = prefill_join(self._request, self._executor.prefill, target.key)
        self._segment = _Segment(events, target, attempt, limits, buffer, join)
        self.served = attempt
        self._call.served = attempt

    async def _open(
        self, request: ChatRequest, target: Target, attempt: AttemptRecord, limits: AttemptLimits
    ) -> tuple[AsyncIterator[list[StreamEvent]], list[StreamEvent]]:
        """Start a stream and read it up to the batch holding its first content (or raise)."""
        events = target.adapter.stream_batches(request, target.model, limits)
        buffer: list[StreamEvent] = []
        try:
            async for batch in events:
                committed = False
                for event in batch:
                    if type(event) is UsageUpdate:
                        attempt.usage = merge_usage(attempt.usage, event.usage)
                    elif type(event) in _COMMITTING:
                        committed = True
                buffer += batch
                if committed:
                    attempt.ttft_s = self._executor._clock() - attempt.started_at
                    return events, buffer
            raise ProviderError("truncated", "stream ended before any content")
        except BaseException:
            await _close(events)
            raise

    async def abandon(self) -> None:
        """The client left before the answer was relayed: close the opened upstream stream
        and end its attempt as cancelled. Does nothing once `events()` has started."""
        segment = self._segment
        if segment is None or self._relaying:
            return
        self._segment = None
        await _close(segment.events)
        self._executor.end_attempt(
            self._call,
            segment.target,
            segment.attempt,
            outcome="cancelled",
            limits=segment.limits,
        )

    # --- after ---------------------------------------------------------------------------
    async def events(self) -> AsyncGenerator[list[StreamEvent], None]:
        """The answer's events, whole, in the batches they arrived in. Raises
        `StreamFailed` if it cannot be completed."""
        segment = self._segment
        assert segment is not None
        self._relaying = True
        executor = self._executor
        call = self._call
        # The client's one MessageStart leaves with the first content (one write, one hop).
        head: list[StreamEvent] | None = [_client_start(segment)]
        while True:
            current = segment
            try:
                # The segment's events as the client should see them, a batch at a time
                # (inline, not a generator of its own: a hop per chunk); after `Finish`
                # nothing more of it is read.
                out: list[StreamEvent] = []
                finished = self._pass_batch(current.buffer, current, out)
                # Not held for the rest of the stream (by the segment or this frame).
                current.buffer = _NO_EVENTS
                if head is not None:
                    out, head = head + out, None
                if out:
                    yield out
                # What was yielded is the client's: not held while the next read is awaited
                # (with thousands of streams waiting, every object counts for the collector).
                del out
                if not finished:
                    async for batch in current.events:
                        out = []
                        finished = self._pass_batch(batch, current, out)
                        if out:
                            yield out
                        del batch, out
                        if finished:
                            break
                    else:
                        raise ProviderError("truncated", "stream ended without finishing")
                executor.end_attempt(call, current.target, current.attempt, limits=current.limits)
                if self.continued:
                    executor.bus.resilience(
                        "continuation", current.target.provider, current.target.model, "succeeded"
                    )
                return
            except ProviderError as error:
                executor.end_attempt(
                    call, current.target, current.attempt, error, limits=current.limits
                )
                await _close(current.events)
                segment = await self._resume(current, error)
            except BaseException:
                if current.attempt.duration_s == 0.0:
                    # Cut (the client went away, or the gateway stopped): what was
                    # generated until then is billed all the same.
                    self._estimate_usage(current)
                    executor.end_attempt(
                        call,
                        current.target,
                        current.attempt,
                        outcome="cancelled",
                        limits=current.limits,
                    )
                raise
            finally:
                await _close(current.events)

    def _pass_batch(
        self, batch: Sequence[StreamEvent], segment: _Segment, out: list[StreamEvent]
    ) -> bool:
        """Appends to `out` what `batch` becomes for the client; True at `Finish` (what
        follows it is not part of the answer)."""
        join = segment.join
        for event in batch:
            if type(event) is TextDelta:
                # The commonest event, inline: a call per event is most of its cost here.
                text = event.text if join is None else join.feed(event.text)
                if text:
                    segment.attempt.delivered = True
                    segment.output_chars += len(text)
                    self.text.append(text)
                    out.append(event if text is event.text else TextDelta(text))
                continue
            self._pass(event, segment, join, out)
            if type(event) is Finish:
                return True
        return False

    def _pass(
        self, event: StreamEvent, segment: _Segment, join: Join | None, out: list[StreamEvent]
    ) -> None:
        """Appends to `out` what one upstream event other than text becomes for the client
        (usually itself); text is passed by `_pass_batch`."""
        if type(event) is UsageUpdate:
            attempt = segment.attempt
            attempt.usage = merge_usage(attempt.usage, event.usage)
            if not self.continued:
                out.append(event)
                return
            total = Usage()
            total.add(self._usage_before)
            total.add(attempt.usage)
            out.append(UsageUpdate(total))
            return
        if type(event) is MessageStart:
            return  # the client has had its one
        if type(event) is ThinkingDelta:
            if self.continued:
                # A continuation's reasoning would restart the client's; billed all the same.
                segment.output_chars += len(event.text)
                return
            self._sent(segment, len(event.text))
            out.append(event)
            return
        if join is not None:
            rest = join.flush()
            if rest:
                self._sent(segment, len(rest))
                self.text.append(rest)
                out.append(TextDelta(rest))
        if type(event) is RefusalDelta:
            self._sent(segment, len(event.text))
            self.text.append(event.text)
        elif type(event) is ToolCallDelta:
            self._sent_tools = True
            self._sent(segment, len(event.arguments))
        elif type(event) is ToolCallStart:
            self._sent_tools = True
            self._sent(segment, len(event.name))
        elif type(event) is VendorPart:
            if event.step != "delta":
                self._vendor_part_open = event.step == "start"
            self._sent(segment, 0)
        out.append(event)

    @staticmethod
    def _sent(segment: _Segment, chars: int) -> None:
        segment.attempt.delivered = True
        segment.output_chars += chars

    # --- resuming a cut stream -------------------------------------------------------------
    async def _resume(self, cut: _Segment, error: ProviderError) -> _Segment:
        """A segment that continues the answer after `cut` broke with `error`."""
        executor = self._executor
        call = self._call
        target = cut.target
        failure = gateway_error_for(error, target, call.context_tokens)
        self._account_cut(cut)
        if self._sent_tools or self._vendor_part_open:
            executor.bus.resilience("continuation", target.provider, target.model, "impossible")
            what = "tool calls" if self._sent_tools else "a part of the vendor's own"
            raise StreamFailed(_mid_stream(failure, f"{what} cannot be resumed")) from None
        if call.continuations >= executor.max_continuations:
            executor.bus.resilience("continuation", target.provider, target.model, "failed")
            raise StreamFailed(_mid_stream(failure, "no continuation left")) from None
        sent = "".join(self.text)
        used = self._usage_before.output_tokens
        try:
            request, full, prefill = continuation_request(self._request, sent, used)
        except GatewayError as unsendable:
            # Content only the client's own vendor takes (an Anthropic document, a server
            # tool) went through as sent, but has no internal shape to resend it in.
            executor.bus.resilience("continuation", target.provider, target.model, "impossible")
            why = f"the conversation cannot be sent again: {unsendable.message}"
            raise StreamFailed(_mid_stream(failure, why)) from None
        targets = self._continuation_targets(cut.target, need_prefill=bool(prefill))
        if not targets:
            executor.bus.resilience("continuation", target.provider, target.model, "failed")
            raise StreamFailed(
                _mid_stream(failure, "no target can continue an assistant message")
            ) from None
        call.continuations += 1
        log.info(
            "stream from %s/%s broke after %d characters (%s): continuing",
            target.provider,
            target.model,
            len(sent),
            error.kind,
        )
        need_prefill = bool(prefill)

        async def attempt_fn(
            candidate: Target, attempt: AttemptRecord, limits: AttemptLimits
        ) -> tuple[AsyncIterator[list[StreamEvent]], list[StreamEvent]]:
            if need_prefill and not executor.prefill.supports(*candidate.key):
                # Learned meanwhile (another call's rejection): don't risk a fresh answer.
                raise ProviderError("unavailable", "does not continue an assistant message")
            executor.bus.resilience(
                "continuation", candidate.provider, candidate.model, "attempted"
            )
            return await self._open(request, candidate, attempt, limits)

        try:
            (events, buffer), chosen, attempt, limits = await executor.run_attempts(
                call, attempt_fn, targets=targets, reason="continuation"
            )
        except GatewayError:
            executor.bus.resilience("continuation", target.provider, target.model, "failed")
            raise StreamFailed(_mid_stream(failure, "no target could continue it")) from None
        return _Segment(events, chosen, attempt, limits, buffer, Join(full, prefill))

    def _continuation_targets(self, cut: Target, *, need_prefill: bool) -> list[Target]:
        executor = self._executor
        candidates = [cut, *executor.targets(self._call)]
        chosen: list[Target] = []
        keys: set[tuple[str, str]] = set()
        for candidate in candidates:
            if candidate.key in keys:
                continue
            if need_prefill and not executor.prefill.supports(*candidate.key):
                continue
            keys.add(candidate.key)
            chosen.append(candidate)
        return chosen

    def _account_cut(self, cut: _Segment) -> None:
        """The cut attempt's usage joins the answer's: as reported, or estimated."""
        attempt = cut.attempt
        if not attempt.delivered:
            return
        estimated = self._estimate_usage(cut)
        if estimated is not None:
            attempt.cost_usd = self._executor.prices.cost_usd(attempt.model, estimated)
        if attempt.usage is not None:
            self._usage_before.add(attempt.usage)

    def _estimate_usage(self, segment: _Segment) -> Usage | None:
        """Estimate the usage of an attempt that delivered content but ended before the
        provider reported its output (it reports usage last): the prompt as the gateway
        counted it, the output from what it generated (text, reasoning, tool calls). None
        if there is nothing to estimate."""
        attempt = segment.attempt
        if not attempt.delivered:
            return None
        output = max(1, tokens_from_chars(segment.output_chars))
        reported = attempt.usage
        # A count reported before the end may be a placeholder (Anthropic's
        # `message_start` says 1 output token): it stands only if it covers what was sent.
        if reported is not None and reported.output_tokens >= output:
            return None
        estimated = Usage(
            input_tokens=reported.input_tokens if reported else 0,
            output_tokens=output,
            cached_input_tokens=reported.cached_input_tokens if reported else 0,
            cache_write_tokens=reported.cache_write_tokens if reported else 0,
        )
        if not estimated.input_tokens:
            # What was sent: the summarized conversation, if one replaced the client's.
            estimated.input_tokens = self._call.context_tokens_after
        attempt.usage = estimated
        attempt.usage_estimated = True
        return estimated


def _client_start(segment: _Segment) -> MessageStart:
    """The MessageStart the client gets: the first attempt's own, or one naming its model."""
    first = segment.buffer[0] if segment.buffer else None
    if isinstance(first, MessageStart):
        return first
    return MessageStart("", segment.target.model)


def _mid_stream(error: GatewayError, why: str) -> GatewayError:
    return GatewayError(
        error.kind,
        f"the answer was interrupted after part of it had been streamed, and could not be "
        f"completed ({why}): {error.message}",
        status=error.status,
    )


async def _close(events: AsyncIterator[list[StreamEvent]]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()
