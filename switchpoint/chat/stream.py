"""Streamed answers as a sequence of vendor-neutral events.

Every adapter turns its vendor's stream into these; every ingress renders them in the
client's protocol. A well-formed stream is: `MessageStart`, any number of deltas and
`UsageUpdate`s, then exactly one `Finish`. A stream that ends without `Finish` did not
complete, whatever text it carried.

The event classes are final: the per-event path dispatches on an event's exact type
(`type(event) is TextDelta`), which costs a fraction of an `isinstance` that fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, final

import orjson

from switchpoint.chat.content import Text, Thinking, ToolCall
from switchpoint.chat.response import ChatResponse, StopReason
from switchpoint.chat.usage import Usage


@final
@dataclass(slots=True)
class MessageStart:
    """The answer begins. `system_fingerprint` and `service_tier` are OpenAI's, constant
    for a stream: carried once here (None when the vendor sent none) rather than on
    every event, for a client of OpenAI's protocol."""

    id: str
    model: str
    system_fingerprint: str | None = None
    service_tier: str | None = None


@final
@dataclass(slots=True)
class TextDelta:
    text: str


@final
@dataclass(slots=True)
class RefusalDelta:
    """Why the model refused, streamed apart from its content (OpenAI's `delta.refusal`,
    with structured output): an OpenAI client gets it in that field and a `stop`;
    clients of other protocols get it as text, with their refusal stop."""

    text: str


@final
@dataclass(slots=True)
class ThinkingDelta:
    """Reasoning text. `signature` closes a thinking block (Anthropic's signature_delta);
    `redacted_data` is a whole encrypted block of its own (Anthropic's redacted_thinking).
    `signed`: the vendor signs its reasoning, so a signature will close this block and
    it may be relayed as it comes (unsigned reasoning cannot be replayed to Anthropic)."""

    text: str
    signature: str | None = None
    redacted_data: str | None = None
    signed: bool = False


@final
@dataclass(slots=True)
class ToolCallStart:
    """A tool call begins. `index` counts tool calls within this answer, from 0.

    `valid_json`: the vendor guarantees its arguments form a JSON object (Anthropic's
    streamed input, Gemini's whole objects); OpenAI's protocol streams whatever text the
    model wrote, which is not always JSON."""

    index: int
    id: str
    name: str
    valid_json: bool = True


@final
@dataclass(slots=True)
class ToolCallDelta:
    index: int
    arguments: str


@final
@dataclass(slots=True)
class UsageUpdate:
    """Usage so far. Later updates supersede earlier ones field by field (non-zero wins)."""

    usage: Usage


@final
@dataclass(slots=True)
class Finish:
    stop_reason: StopReason
    # The client's stop sequence that ended the answer, where the vendor says which.
    stop_sequence: str | None = None
    # Anthropic's `stop_details` (a refusal's category and explanation): for a client of
    # Anthropic's protocol, which has a place for it.
    stop_details: dict[str, Any] | None = None


@final
@dataclass(slots=True)
class VendorPart:
    """Content of a kind the internal shape does not model (Anthropic's server tool
    calls and their results, citations), kept for a client of the vendor's own protocol
    and dropped for others. `part` is the vendor's own object: the block a `start` opens,
    a `delta` to the block open when it comes (its own, or a text block's citations);
    `stop` closes the block a `start` opened."""

    protocol: str
    step: Literal["start", "delta", "stop"]
    part: dict[str, Any] | None = None


StreamEvent = (
    MessageStart
    | TextDelta
    | RefusalDelta
    | ThinkingDelta
    | ToolCallStart
    | ToolCallDelta
    | UsageUpdate
    | Finish
    | VendorPart
)


def merge_usage(current: Usage | None, update: Usage) -> Usage:
    """Fold a streamed usage report into what is known so far."""
    if current is None:
        return Usage(
            update.input_tokens,
            update.output_tokens,
            update.cached_input_tokens,
            update.cache_write_tokens,
            update.reasoning_tokens,
        )
    if update.input_tokens:
        current.input_tokens = update.input_tokens
    if update.output_tokens:
        current.output_tokens = update.output_tokens
    if update.cached_input_tokens:
        current.cached_input_tokens = update.cached_input_tokens
    if update.cache_write_tokens:
        current.cache_write_tokens = update.cache_write_tokens
    if update.reasoning_tokens:
        current.reasoning_tokens = update.reasoning_tokens
    return current


def answer_events(answer: ChatResponse) -> list[StreamEvent]:
    """A whole answer as the events a stream of it would have carried (for an upstream
    that answers a streaming request with the whole answer at once)."""
    events: list[StreamEvent] = [MessageStart(answer.id, answer.model)]
    tools = 0
    for block in answer.content:
        if type(block) is Text:
            if block.text:
                events.append(RefusalDelta(block.text) if block.refusal else TextDelta(block.text))
        elif type(block) is Thinking:
            events.append(ThinkingDelta(block.text, block.signature, block.redacted_data))
        elif type(block) is ToolCall:
            valid = not block.arguments or is_json_object(block.arguments)
            events.append(ToolCallStart(tools, block.id, block.name, valid_json=valid))
            if block.arguments:
                events.append(ToolCallDelta(tools, block.arguments))
            tools += 1
    if answer.usage is not None:
        events.append(UsageUpdate(answer.usage))
    sequence = answer.extra.get("stop_sequence")
    events.append(Finish(answer.stop_reason, sequence if isinstance(sequence, str) else None))
    return events


def is_json_object(text: str) -> bool:
    """Whether `text` is a whole JSON object: a tool call's arguments that can no longer
    change (streamed encoders close a call's item or block on it)."""
    try:
        return isinstance(orjson.loads(text), dict)
    except orjson.JSONDecodeError:
        return False
