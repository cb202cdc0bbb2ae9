"""What every HTTP vendor adapter shares: sending, timeouts, errors, SSE reading."""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Protocol

from switchpoint.chat.request import ChatRequest
from switchpoint.chat.stream import (
    Finish,
    RefusalDelta,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
    UsageUpdate,
    VendorPart,
)
from switchpoint.config.schema import ModelConfig, ProviderConfig
from switchpoint.providers.base import ProviderAdapter
from switchpoint.providers.errors import ProviderError, parse_retry_after
from switchpoint.providers.limits import AttemptLimits
from switchpoint.providers.redaction import Redactor
from switchpoint.providers.sampling_refusals import SamplingRefusals
from switchpoint.transport.errors import (
    ConnectError,
    ConnectionDropped,
    InvalidHttpResponse,
    LocalResourcesExhausted,
    ReadTimeout,
)
from switchpoint.transport.http_client import (
    HttpClient,
    UpstreamResponse,
    encode_head,
    encode_headers,
)
from switchpoint.transport.origin import split_base_url
from switchpoint.transport.sse import SSEDecoder, SSEEvent, SSEEventTooLarge

# Error bodies are read only this far: enough for any vendor's message.
_MAX_ERROR_BODY = 64 * 1024
# When the gateway itself cannot open a connection, the client is told to come back
# after this long (descriptors are freed as other calls end).
_LOCAL_RETRY_AFTER_S = 1.0
# A refused request is sent again (changed) at most this often in one attempt: each
# time without one more setting the model refuses, of the few that may be left out.
_MAX_RESENDS = 5
# A whole answer is a few hundred KB of text and tool calls, a few MB with inline images;
# past this it is not an answer, and holding it would take the memory of every other call
# on the worker (the body is held whole to be decoded).
MAX_ANSWER_BYTES = 64 * 1024 * 1024

# Once the vendor has said why the answer stopped, only its epilogue (usage, sentinel)
# remains: wait this long at most for it; and this long once the final usage is in.
AFTER_FINISH_WAIT_S = 2.0
AFTER_USAGE_WAIT_S = 0.25

# Events that show the model producing the answer (reasoning included): progress.
_CONTENT = frozenset(
    {TextDelta, RefusalDelta, ToolCallStart, ToolCallDelta, ThinkingDelta, VendorPart}
)
# What a decoder raises on valid JSON of an unexpected shape.
_SHAPE_ERRORS = (KeyError, TypeError, AttributeError, ValueError, IndexError)


class SSEStreamDecoder(Protocol):
    """A vendor's stream decoder, as `relay_sse` drives it."""

    # The vendor's end-of-stream sentinel was seen; the stream is over.
    finished: bool
    # Events skipped because they were not valid JSON (the count feeds a metric).
    invalid_events: int

    @property
    def saw_finish_reason(self) -> bool:
        """The vendor said why the answer stopped: it is complete even if the rest is lost."""

    def decode(self, event: SSEEvent) -> list[StreamEvent]: ...

    def finish(self) -> list[StreamEvent]:
        """Close the stream: its `Finish` event, once."""


class HttpProviderAdapter(ProviderAdapter):
    default_base_url: str = ""

    def __init__(
        self,
        name: str,
        config: ProviderConfig,
        models: dict[str, ModelConfig],
        *,
        client: HttpClient,
        api_key: str | None,
    ) -> None:
        super().__init__(name, config, models)
        self.client = client
        self.api_key = api_key
        base_url = str(config.base_url) if config.base_url else self.default_base_url
        self.origin, self.base_path = split_base_url(base_url)
        self.redact = Redactor([api_key] if api_key else [])
        # Stream events skipped as malformed, over all of this adapter's streams.
        self.invalid_stream_events = 0
        # Sampling settings its models were seen to refuse.
        self.sampling_refusals = SamplingRefusals()
        headers = {
            "user-agent": "switchpoint/0.1",
            "content-type": "application/json",
            "accept": "application/json, text/event-stream",
            # Without it any coding is acceptable (RFC 9110), and the client decodes none.
            "accept-encoding": "identity",
            **self.protocol_headers(),
            **self.auth_headers(),
            **config.headers,
        }
        self._static_headers = encode_headers(headers)

    @abc.abstractmethod
    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate us to the vendor (never the client's credential)."""

    def protocol_headers(self) -> dict[str, str]:
        """Headers the vendor's protocol needs on every request (e.g. an API version)."""
        return {}

    @abc.abstractmethod
    def classify_error(
        self, status: int, body: bytes, headers: dict[str, str]
    ) -> ProviderError: ...

    async def post(
        self,
        target: str,
        body: bytes,
        limits: AttemptLimits,
        *,
        header_timeout: float,
        extra_headers: dict[str, str] | None = None,
    ) -> UpstreamResponse:
        """POST and wait for the response head; any non-2xx becomes a `ProviderError`."""
        headers = self._static_headers
        if extra_headers:
            headers += encode_headers(extra_headers)
        head = encode_head("POST", target, self.origin, headers, len(body))
        try:
            response = await self.client.request(
                self.origin,
                head,
                body,
                connect_timeout=limits.bounded(limits.connect_s, time.perf_counter()),
                response_timeout=limits.bounded(header_timeout, time.perf_counter()),
                progress=limits.stats,
            )
        except LocalResourcesExhausted as exc:
            raise ProviderError(
                "local_resources", self.redact(str(exc)), retry_after_s=_LOCAL_RETRY_AFTER_S
            ) from None
        except ConnectError as exc:
            raise ProviderError("connect", self.redact(str(exc))) from None
        except ReadTimeout:
            raise ProviderError(
                "timeout", f"{self.name} sent no response within the time limit"
            ) from None
        except InvalidHttpResponse as exc:
            raise ProviderError("invalid_response", f"{self.name} sent {exc}") from None
        except ConnectionDropped as exc:
            raise ProviderError("dropped", f"{self.name} closed the connection: {exc}") from None
        if response.status >= 300:
            if response.status < 400:
                raise self._redirected(response)
            raise await self._error_from(response, limits)
        coding = response.headers.get("content-encoding", "identity")
        if coding != "identity":
            response.close()
            raise ProviderError(
                "invalid_response", f"{self.name} sent a {coding}-encoded body it was not asked for"
            )
        return response

    async def post_again(
        self,
        error: ProviderError,
        target: str,
        resend: Callable[[ProviderError], bytes | None],
        limits: AttemptLimits,
        *,
        first_token: bool,
        extra_headers: dict[str, str] | None = None,
    ) -> UpstreamResponse:
        """After `post` failed with `error`: POST the body `resend` makes of it, for as
        long as it makes one (a few times at most); else raise the last error. The same
        attempt, under the same time limits (a stream's first-token limit, or the whole
        attempt's)."""
        for _ in range(_MAX_RESENDS):
            body = resend(error)
            if body is None:
                break
            now = time.perf_counter()
            try:
                return await self.post(
                    target,
                    body,
                    limits,
                    header_timeout=(
                        limits.first_token_remaining(now) if first_token else limits.deadline - now
                    ),
                    extra_headers=extra_headers,
                )
            except ProviderError as again:
                error = again
        raise error

    def _redirected(self, response: UpstreamResponse) -> ProviderError:
        """A 3xx is no answer of the vendor's API: its base URL moved, or an edge in front
        of it redirects. Not followed (the request and our key would go wherever it
        points) and not passed on (a client would get a 3xx without its Location, or a
        304 without a body, as if its own request were at fault): this provider failed."""
        response.close()
        return ProviderError(
            "invalid_response",
            f"{self.name} answered with a redirect (HTTP {response.status}) instead of an "
            "answer: check its base_url",
            status=response.status,
        )

    async def _error_from(self, response: UpstreamResponse, limits: AttemptLimits) -> ProviderError:
        wait_s = limits.bounded(10.0, time.perf_counter())
        try:
            # The read's timeout bounds each chunk: a body trickled a byte at a time would
            # hold the call for hours. The whole read gets the same bound.
            async with asyncio.timeout(wait_s):
                body = await response.read(wait_s, limit=_MAX_ERROR_BODY)
        except (ReadTimeout, ConnectionDropped, TimeoutError):
            body = b""
        error = self.classify_error(response.status, body, response.headers)
        error.message = self.redact(error.message)
        error.vendor_type = self.redact.code(error.vendor_type)
        if error.retry_after_s is None:
            error.retry_after_s = parse_retry_after(response.headers)
        return error

    async def read_body(self, response: UpstreamResponse, limits: AttemptLimits) -> bytes:
        """A whole body. Its headers came after the answer was generated, so the rest
        should flow: a gap longer than the idle limit is a stall, and the attempt's
        deadline bounds the whole read (a trickle cannot hold it open)."""
        limit = MAX_ANSWER_BYTES
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            response.close()
            raise self._too_large(limit)
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                now = time.perf_counter()
                if now >= limits.deadline:
                    response.close()
                    raise ProviderError("timeout", f"{self.name} exceeded the attempt time limit")
                chunk = await response.next_chunk(min(limits.idle_s, limits.deadline - now))
                if chunk is None:
                    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    response.close()
                    raise self._too_large(limit)
        except ReadTimeout:
            raise ProviderError("stalled", f"{self.name} stopped sending its answer") from None
        except ConnectionDropped as exc:
            raise ProviderError("dropped", f"{self.name} closed the connection: {exc}") from None

    def _too_large(self, limit: int) -> ProviderError:
        return ProviderError(
            "invalid_response", f"{self.name} sent an answer larger than {limit} bytes"
        )

    async def relay_sse(
        self,
        target: str,
        body: bytes,
        limits: AttemptLimits,
        decoder: SSEStreamDecoder,
        stream_error: Callable[[Exception], ProviderError | None],
        *,
        extra_headers: dict[str, str] | None = None,
        whole_answer: Callable[[bytes], list[StreamEvent]] | None = None,
        resend: Callable[[ProviderError], bytes | None] | None = None,
    ) -> AsyncGenerator[list[StreamEvent], None]:
        """POST a streaming request to `target` and relay the vendor's SSE stream as
        internal events (those decoded from one read in one list), ending with `Finish`
        only when the vendor said the answer is complete; otherwise raise `ProviderError`.

        `stream_error` turns what `decoder.decode` raises (an in-stream error event) into
        the attempt's `ProviderError`; None lets the exception through, except for an
        event of the wrong shape, which is skipped and counted like invalid JSON.

        `whole_answer` decodes a JSON body into the events of the whole answer (raising
        `ProviderError` when it is not one): some servers of a vendor's protocol ignore
        the request to stream and answer at once. Without it, such a body is an error
        that says so.

        `resend`, when the vendor refuses the request, makes the body to send instead
        (`post_again`), or None to let the refusal stand.
        """
        # The request, the reading and the SSE splitting are all in this one generator
        # (none a generator of its own): each layer costs every chunk of every stream a hop.
        try:
            response = await self.post(
                target,
                body,
                limits,
                header_timeout=limits.first_token_remaining(time.perf_counter()),
                extra_headers=extra_headers,
            )
        except ProviderError as error:
            if resend is None:
                raise
            response = await self.post_again(
                error, target, resend, limits, first_token=True, extra_headers=extra_headers
            )
        if response.headers.get("content-type", "").startswith("application/json"):
            yield await self._read_whole_answer(response, limits, whole_answer)
            return
        timing = StreamTiming(limits)
        sse_decoder = SSEDecoder()
        stats = limits.stats
        final_usage = finish_seen = False
        body_ended = False
        try:
            while not body_ended:
                # Until the first content, wait until the first-token deadline; after, up
                # to the idle limit since the last content (keep-alive pings are not
                # progress). Never past the attempt's deadline.
                now = time.perf_counter()
                until = timing.wait_until()
                if now >= until:
                    if now >= timing.deadline or not timing.started:
                        raise timing.expired(self.name, now)
                    # Past the idle limit while this stream was not being read (a wait
                    # on the vendor ends at the limit): its client was slow to take the
                    # last batch (backpressure), and what the vendor sent meanwhile is
                    # buffered. The limit counts time spent waiting on the vendor, so it
                    # starts again; else a slow client was the vendor's failure, and
                    # made a continuation that bills the prompt again.
                    timing.last_content = now
                    until = timing.wait_until()
                try:
                    chunk = await response.next_chunk(until - now)
                except ReadTimeout:
                    raise timing.expired(self.name, time.perf_counter()) from None
                except ConnectionDropped:
                    raise ProviderError(
                        "dropped",
                        f"{self.name} stream was cut"
                        + (" mid-answer" if timing.started else " before any content"),
                    ) from None
                try:
                    if chunk is None:
                        body_ended = True
                        batch = sse_decoder.flush()
                    else:
                        batch = sse_decoder.feed(chunk)
                except SSEEventTooLarge as exc:
                    raise ProviderError(
                        "invalid_response", f"{self.name} stream is broken: {exc}"
                    ) from None
                if not batch:
                    continue
                out, content, usage, failure = self._decode_batch(batch, decoder, stream_error)
                # Neither list is held while the next read is awaited: with thousands of
                # streams waiting, each is one more object for every garbage collection.
                del batch
                if decoder.invalid_events:
                    stats.malformed_events = decoder.invalid_events
                if content:
                    timing.content()
                if failure is not None:
                    if decoder.saw_finish_reason:
                        # An error after the answer said why it stopped: only the
                        # epilogue was lost, as when the stream stalls there (below).
                        out += decoder.finish()
                        yield out
                        return
                    if out:
                        yield out
                    raise failure
                if decoder.finished:
                    if not decoder.saw_finish_reason:
                        # The vendor's end marker without its stop reason (`[DONE]` with
                        # no `finish_reason`, `message_stop` with no `message_delta`): cut,
                        # not complete, whatever the decoder's `Finish` says.
                        if out and type(out[-1]) is Finish:
                            out.pop()
                        if out:
                            yield out
                        raise ProviderError(
                            "truncated",
                            f"{self.name} stream ended without saying why it stopped",
                            vendor_type="incomplete_stream",
                        )
                    # Before the last events are yielded: the consumer may stop at `Finish`.
                    response.release()
                    if out:
                        yield out
                    return
                if out:
                    yield out
                del out
                if decoder.saw_finish_reason:
                    # Only the epilogue (usage, sentinel) remains: wait briefly for it,
                    # and hardly at all once the final usage is in. The wait starts when
                    # the finish (then the usage) comes, not again at every batch: keep-
                    # alive pings after it would hold the answer to the attempt's limit.
                    if not finish_seen or (usage and not final_usage):
                        timing.content()
                    finish_seen = True
                    final_usage = final_usage or usage
                    timing.idle_s = min(
                        timing.idle_s, AFTER_USAGE_WAIT_S if final_usage else AFTER_FINISH_WAIT_S
                    )
        except ProviderError as exc:
            if decoder.saw_finish_reason and exc.kind in ("stalled", "timeout", "dropped"):
                # Everything but the epilogue arrived: the answer is complete.
                finish = decoder.finish()
                if finish:
                    yield finish
                return
            raise
        finally:
            self.invalid_stream_events += decoder.invalid_events
            response.close()
        if decoder.saw_finish_reason:
            # No sentinel: the answer said why it stopped, so it is complete.
            finish = decoder.finish()
            if finish:
                yield finish
            return
        raise ProviderError(
            "truncated",
            f"{self.name} stream ended before the answer was complete",
            vendor_type="incomplete_stream",
        )

    async def _read_whole_answer(
        self,
        response: UpstreamResponse,
        limits: AttemptLimits,
        decode: Callable[[bytes], list[StreamEvent]] | None,
    ) -> list[StreamEvent]:
        if decode is None:
            response.close()
            raise ProviderError(
                "invalid_response",
                f"{self.name} answered a streaming request with JSON, not an event stream",
            )
        return decode(await self.read_body(response, limits))

    def _decode_batch(
        self,
        batch: list[SSEEvent],
        decoder: SSEStreamDecoder,
        stream_error: Callable[[Exception], ProviderError | None],
    ) -> tuple[list[StreamEvent], bool, bool, ProviderError | None]:
        """The internal events of one read's SSE events, whether they hold content and
        usage, and the error an error event raised (it ends the stream after the events
        before it)."""
        out: list[StreamEvent] = []
        content = usage = False
        for sse in batch:
            try:
                decoded = decoder.decode(sse)
            except ProviderError as exc:
                return out, content, usage, exc
            except Exception as exc:
                error = stream_error(exc)
                if error is None:
                    if not isinstance(exc, _SHAPE_ERRORS):
                        raise
                    decoder.invalid_events += 1
                    continue
                error.message = self.redact(error.message)
                error.vendor_type = self.redact.code(error.vendor_type)
                return out, content, usage, error
            for event in decoded:
                kind = type(event)
                if kind in _CONTENT:
                    content = True
                elif kind is UsageUpdate:
                    usage = True
            out += decoded
            if decoder.finished:
                break
        return out, content, usage, None

    async def stream(
        self, request: ChatRequest, model: str, limits: AttemptLimits
    ) -> AsyncIterator[StreamEvent]:
        batches = self.stream_batches(request, model, limits)
        try:
            async for batch in batches:
                for event in batch:
                    yield event
        finally:
            aclose = getattr(batches, "aclose", None)
            if aclose is not None:
                await aclose()

    @abc.abstractmethod
    def stream_batches(
        self, request: ChatRequest, model: str, limits: AttemptLimits
    ) -> AsyncIterator[list[StreamEvent]]:
        """Each vendor's stream: `relay_sse` with its request and decoder."""


class StreamTiming:
    """The time limits of one streamed attempt, as the stream progresses.

    The first-token limit runs from the attempt's start (headers, pings and role-only
    chunks do not stop it); after the first content, the idle limit runs from the last
    content. Adapters call `content()` for every piece of content they yield.
    """

    __slots__ = ("deadline", "first_token_deadline", "idle_s", "last_content", "started")

    def __init__(self, limits: AttemptLimits) -> None:
        start = limits.started_at or time.perf_counter()
        self.deadline = limits.deadline
        self.first_token_deadline = min(limits.deadline, start + limits.first_token_s)
        self.idle_s = limits.idle_s
        self.started = False
        self.last_content = start

    def content(self) -> None:
        self.started = True
        self.last_content = time.perf_counter()

    def wait_until(self) -> float:
        if self.started:
            return min(self.deadline, self.last_content + self.idle_s)
        return self.first_token_deadline

    def header_timeout(self) -> float:
        return max(0.0, self.first_token_deadline - time.perf_counter())

    def expired(self, provider: str, now: float) -> ProviderError:
        if now >= self.deadline:
            return ProviderError("timeout", f"{provider} exceeded the attempt time limit")
        if self.started:
            return ProviderError(
                "stalled", f"{provider} stream stalled mid-answer (no content for {self.idle_s:g}s)"
            )
        return ProviderError("timeout", f"{provider} sent no first token within the time limit")
