"""What the chat endpoint needs to know about the protocol a client speaks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from switchpoint.chat.request import Conversation
from switchpoint.chat.response import ChatResponse
from switchpoint.chat.stream import StreamEvent
from switchpoint.errors import GatewayError


@dataclass(slots=True)
class ParsedBody:
    """The few fields routing needs, read without decoding the whole conversation."""

    model: str | None
    stream: bool
    # Protocol-specific rendering options (e.g. OpenAI's `stream_options.include_usage`).
    include_usage: bool = False
    # OpenAI's `logprobs: true`: a stream renders the vendor's log-probabilities.
    logprobs: bool = False
    # The request's parameters a protocol repeats in its answer (OpenAI Responses').
    echo: dict[str, Any] | None = None


def strip_flag(items: object, flag: str) -> bool:
    """Remove switchpoint's `flag` from each object of a body's list of messages or
    items (it must not reach a vendor); True if any had it."""
    found = False
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict) and flag in item:
            del item[flag]
            found = True
    return found


class StreamEncoder(Protocol):
    def encode(self, event: StreamEvent) -> bytes: ...

    def encode_error(self, error_body: dict[str, Any]) -> bytes: ...


class IngressCodec(Protocol):
    protocol: str
    # A trailing assistant turn is text the answer continues (a prefill).
    continues_prefill: bool

    def decode(self, body: dict[str, Any]) -> Conversation:
        """The whole conversation in the internal shape (validating it)."""

    def prefill_text(self, body: dict[str, Any]) -> str:
        """The text of a trailing assistant turn the answer continues, "" if none (or if
        this protocol has no prefill), read without decoding the conversation."""

    def parse(self, body: dict[str, Any]) -> ParsedBody:
        """Check the body's shape where routing depends on it; raise GatewayError."""

    def strip_extensions(self, body: dict[str, Any]) -> bool:
        """Remove switchpoint's own fields from the body; True if any were present."""

    def vendor_headers(self, headers: dict[bytes, bytes]) -> dict[str, str]:
        """Headers of this protocol that a same-protocol vendor needs (never credentials)."""

    def encode_response(
        self, response: ChatResponse, parsed: ParsedBody, request_id: str
    ) -> bytes: ...

    def stream_encoder(
        self, parsed: ParsedBody, request_id: str, *, input_tokens: int
    ) -> StreamEncoder:
        """`input_tokens`: the gateway's count of the request's input (what it routed
        by), for a protocol that states the input at a stream's start, before the
        vendor has given its own."""

    def show_output_limit(self, parsed: ParsedBody, limit: int) -> None:
        """The request's output maximum was capped to `limit` (the serving model's):
        a protocol whose answer repeats the maximum repeats the one applied."""

    def error_body(self, error: GatewayError) -> dict[str, Any]: ...
