"""Fault definitions: what a fake upstream can do instead of answering normally.

Each fault is a small frozen value. The fakes decide how it looks on the wire
for their vendor (status code, error body, SSE event), so the same script reads
the same against every vendor while the bytes stay faithful to each one.

Faults split into three families, because they fail at different layers and a
gateway must handle each layer differently:

* ``HttpFault``: the vendor answers with an error status and its own error body.
* ``TransportFault``: the TCP connection misbehaves (reset, silence).
* ``StreamFault``: a 200 answer that goes wrong part-way (cut, stall, junk).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Stage = Literal["headers", "first_event"]
StreamErrorKind = Literal["overloaded", "server_error"]


@dataclass(frozen=True)
class Fault:
    """Base of every fault; ``name`` is what recordings report as the behaviour."""

    @property
    def name(self) -> str:
        return type(self).__name__

    def applies(self, *, stream: bool) -> bool:
        """Whether this fault can shape a request of the given kind.

        A scripted fault that does not apply stays queued for the next request
        it does apply to, rather than being silently spent on the wrong one.
        """
        return True


# --- HTTP-level errors, rendered in each vendor's own error shape -------------


@dataclass(frozen=True)
class HttpFault(Fault):
    """An error status with the vendor's error body."""


@dataclass(frozen=True)
class RateLimited(HttpFault):
    """429 rate limit. ``retry_after`` (seconds, or any raw header string) adds
    ``Retry-After`` for OpenAI/Anthropic; Gemini carries it as a ``RetryInfo``
    ``retryDelay`` in the body instead, as Google does."""

    retry_after: float | str | None = None


@dataclass(frozen=True)
class QuotaExhausted(HttpFault):
    """Out of credit / quota: retrying will not help (OpenAI 429
    ``insufficient_quota``, Anthropic 400 credit balance, Gemini 429 quota)."""


@dataclass(frozen=True)
class ServerError(HttpFault):
    """500 internal error in the vendor's JSON shape."""


@dataclass(frozen=True)
class BadGateway(HttpFault):
    """502 from the vendor's edge proxy: an HTML page, not JSON, as in reality."""


@dataclass(frozen=True)
class ServiceUnavailable(HttpFault):
    """503 service unavailable."""


@dataclass(frozen=True)
class Overloaded(HttpFault):
    """Capacity error: Anthropic 529 ``overloaded_error``; OpenAI and Gemini
    have no 529 and send their 503 overload messages instead."""


@dataclass(frozen=True)
class ContextLengthExceeded(HttpFault):
    """400 prompt-too-long in the vendor's shape. The message quotes the
    request's computed input tokens and ``limit`` (default: the fake's context
    window for the model, else one less than the prompt)."""

    limit: int | None = None


@dataclass(frozen=True)
class ContentPolicy(HttpFault):
    """The vendor's safety system rejects the request: OpenAI 400
    ``content_policy_violation``; Anthropic 400 "Output blocked by content
    filtering policy"; Gemini 200 with ``promptFeedback.blockReason=SAFETY`` and
    no candidates (Gemini reports blocks in-band, not as an error status)."""


@dataclass(frozen=True)
class RawResponse(HttpFault):
    """Escape hatch: exactly these bytes with this status and content type (``chunked``:
    sent in 64 KB HTTP chunks, without a content length)."""

    status: int = 500
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    chunked: bool = False


# --- In-band refusal: a successful answer in which the model declines ---------


@dataclass(frozen=True)
class Refusal(Fault):
    """A 200 answer in which the model refuses: OpenAI ``message.refusal`` (Responses:
    a ``refusal`` content part, status ``incomplete`` for ``content_filter``);
    Anthropic ``stop_reason: "refusal"``; Gemini ``finishReason: SAFETY`` with
    no text."""


# --- Transport-level faults ----------------------------------------------------


@dataclass(frozen=True)
class TransportFault(Fault):
    """The connection itself misbehaves; no well-formed HTTP answer arrives."""


@dataclass(frozen=True)
class ConnectionReset(TransportFault):
    """Read the request, then reset the TCP connection (RST) before any header."""


@dataclass(frozen=True)
class AcceptThenSilent(TransportFault):
    """Read the request, then say nothing until the client gives up."""


@dataclass(frozen=True)
class SlowFirstToken(Fault):
    """Answer normally, but wait ``delay`` seconds first: before the status line
    (``stage="headers"``) or, for streams, after headers and before the first
    event (``stage="first_event"``). Non-stream answers always wait before
    headers, since their headers and body leave together."""

    delay: float = 1.0
    stage: Stage = "headers"


# --- Faults of a 200 answer that goes wrong part-way ---------------------------


@dataclass(frozen=True)
class StreamFault(Fault):
    """A 200 answer that breaks part-way."""


@dataclass(frozen=True)
class CutAfter(StreamFault):
    """Close the connection after ``events`` SSE events, without the stream's
    terminating chunk, so the client sees an incomplete body. For non-stream
    requests: send headers and half the body, then close. ``events`` is clamped
    so that at least the final event is always lost."""

    events: int = 1


@dataclass(frozen=True)
class StallAfter(StreamFault):
    """Send ``events`` SSE events (non-stream: headers and half the body), then
    keep the connection open and send nothing more until the client leaves."""

    events: int = 1


@dataclass(frozen=True)
class InvalidEvent(StreamFault):
    """Insert a non-JSON event after ``after`` good events, then carry on."""

    after: int = 1
    payload: str = "{this is not json"

    def applies(self, *, stream: bool) -> bool:
        return stream


@dataclass(frozen=True)
class EndlessEvent(StreamFault):
    """After ``after`` good events, start an event and never end it: ``data: `` and
    then filler, 64 KB a write, for as long as the client keeps reading."""

    after: int = 1

    def applies(self, *, stream: bool) -> bool:
        return stream


@dataclass(frozen=True)
class MissingSentinel(StreamFault):
    """End the stream cleanly at the HTTP level but without its terminating
    sentinel (OpenAI ``data: [DONE]``, Anthropic ``message_stop``). With
    ``keep_finish=False`` the events carrying the finish reason are dropped as
    well (OpenAI finish chunk and usage chunk, Anthropic ``message_delta``,
    Gemini's final ``finishReason``, the Responses API's terminal
    ``response.completed``/``response.incomplete``). Gemini and the Responses
    API have no sentinel, so with ``keep_finish=True`` their streams are
    unchanged."""

    keep_finish: bool = True

    def applies(self, *, stream: bool) -> bool:
        return stream


@dataclass(frozen=True)
class IgnoresStream(StreamFault):
    """Answer a streaming request with the whole answer as one JSON body, as some
    servers of OpenAI's protocol do (the vendors' own APIs stream when asked)."""

    def applies(self, *, stream: bool) -> bool:
        return stream


@dataclass(frozen=True)
class StreamErrorEvent(StreamFault):
    """After ``after`` good events, send the vendor's in-stream error event
    (Anthropic and OpenAI Responses ``event: error``, OpenAI chat and Gemini
    ``data: {"error": ...}``) and close, as the vendors do when a stream fails
    after its 200."""

    after: int = 1
    kind: StreamErrorKind = "overloaded"

    def applies(self, *, stream: bool) -> bool:
        return stream


@dataclass(frozen=True)
class MalformedBody(StreamFault):
    """A 200 ``application/json`` answer whose body is truncated, invalid JSON."""

    def applies(self, *, stream: bool) -> bool:
        return not stream
