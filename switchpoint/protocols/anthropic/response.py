"""Anthropic `message` bodies <-> `ChatResponse`."""

from __future__ import annotations

from typing import Any

import orjson

from switchpoint.chat.content import Block, Text, Thinking, ToolCall
from switchpoint.chat.response import ChatResponse
from switchpoint.chat.usage import Usage
from switchpoint.protocols.anthropic import PROTOCOL
from switchpoint.protocols.stop_reasons import ANTHROPIC_TO_INTERNAL, INTERNAL_TO_ANTHROPIC
from switchpoint.protocols.token_counts import token_count
from switchpoint.protocols.tool_arguments import arguments_object, arguments_text


class MalformedResponse(ValueError):
    """The provider answered 200 with a body that is not an Anthropic message."""


def _count(usage: dict[str, Any], key: str) -> int | None:
    return token_count(usage.get(key))


class AnthropicUsage:
    """Anthropic's usage fields as last reported.

    Anthropic's `input_tokens` excludes the cached prompt (`cache_read_input_tokens`) and
    the part written to the cache (`cache_creation_input_tokens`); the internal
    `input_tokens` is the whole prompt, so it is the sum of the three.
    """

    __slots__ = ("cache_read", "cache_write", "output", "thinking", "uncached")

    def __init__(self) -> None:
        self.uncached = 0
        self.cache_read = 0
        self.cache_write = 0
        self.output = 0
        # `output_tokens_details.thinking_tokens`: the part of the output spent thinking.
        self.thinking = 0

    def update(self, usage: object) -> bool:
        """Fold in a usage object (counts are cumulative; absent ones are unchanged)."""
        if not isinstance(usage, dict):
            return False
        uncached = _count(usage, "input_tokens")
        if uncached is not None:
            self.uncached = uncached
        read = _count(usage, "cache_read_input_tokens")
        if read is not None:
            self.cache_read = read
        write = _count(usage, "cache_creation_input_tokens")
        if write is not None:
            self.cache_write = write
        output = _count(usage, "output_tokens")
        if output is not None:
            self.output = output
        details = usage.get("output_tokens_details")
        if isinstance(details, dict):
            thinking = _count(details, "thinking_tokens")
            if thinking is not None:
                self.thinking = thinking
        return True

    def internal(self) -> Usage:
        return Usage(
            input_tokens=self.uncached + self.cache_read + self.cache_write,
            output_tokens=self.output,
            cached_input_tokens=self.cache_read,
            cache_write_tokens=self.cache_write,
            reasoning_tokens=self.thinking,
        )


def decode_usage(usage: object) -> Usage | None:
    counts = AnthropicUsage()
    return counts.internal() if counts.update(usage) else None


def decode_block(block: dict[str, Any]) -> Block | None:
    kind = block.get("type")
    if kind == "text":
        text = block.get("text")
        return Text(text) if isinstance(text, str) else None
    if kind == "tool_use":
        return ToolCall(
            str(block.get("id", "")), str(block.get("name", "")), arguments_text(block.get("input"))
        )
    if kind == "thinking":
        signature = block.get("signature")
        return Thinking(
            str(block.get("thinking", "")), signature if isinstance(signature, str) else None
        )
    if kind == "redacted_thinking":
        return Thinking("", redacted_data=str(block.get("data", "")))
    # Server-tool blocks and future types: kept only in the raw body.
    return None


def decode_response(raw: bytes) -> ChatResponse:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MalformedResponse("not a JSON message") from None
    if not isinstance(body, dict) or body.get("type") != "message":
        raise MalformedResponse("not an Anthropic message")
    blocks = body.get("content")
    if not isinstance(blocks, list):
        raise MalformedResponse("message.content is not an array")
    content: list[Block] = []
    for block in blocks:
        if isinstance(block, dict):
            decoded = decode_block(block)
            if decoded is not None:
                content.append(decoded)
    stop = body.get("stop_reason")
    extra: dict[str, object] = {}
    if isinstance(body.get("stop_sequence"), str):
        extra["stop_sequence"] = body["stop_sequence"]
    return ChatResponse(
        id=str(body.get("id", "")),
        model=str(body.get("model", "")),
        content=content,
        stop_reason=ANTHROPIC_TO_INTERNAL.get(stop, "end_turn")
        if isinstance(stop, str)
        else "end_turn",
        usage=decode_usage(body.get("usage")),
        raw=raw,
        raw_protocol=PROTOCOL,
        extra=extra,
    )


def encode_usage(usage: Usage) -> dict[str, Any]:
    encoded: dict[str, Any] = {
        "input_tokens": max(
            0, usage.input_tokens - usage.cached_input_tokens - usage.cache_write_tokens
        ),
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_input_tokens,
        "output_tokens": usage.output_tokens,
    }
    if usage.reasoning_tokens:
        # Where the vendor said; never invented as 0.
        encoded["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return encoded


def message_id(ident: str) -> str:
    return ident if ident.startswith("msg_") else f"msg_{ident}"


def encode_block(block: Block) -> dict[str, Any] | None:
    if isinstance(block, Text):
        return {"type": "text", "text": block.text} if block.text else None
    if isinstance(block, ToolCall):
        return {
            "type": "tool_use",
            "id": block.id,
            "name": block.name,
            "input": arguments_object(block.arguments),
        }
    if isinstance(block, Thinking):
        if block.redacted_data is not None:
            return {"type": "redacted_thinking", "data": block.redacted_data}
        if block.signature:
            return {"type": "thinking", "thinking": block.text, "signature": block.signature}
    # Unsigned reasoning from another vendor would be refused if the client sent it back.
    return None


def encode_response(response: ChatResponse, request_id: str) -> bytes:
    if response.raw is not None and response.raw_protocol == PROTOCOL:
        return response.raw
    content = [b for b in (encode_block(block) for block in response.content) if b is not None]
    stop_sequence = response.extra.get("stop_sequence")
    body: dict[str, Any] = {
        "id": message_id(response.id or request_id),
        "type": "message",
        "role": "assistant",
        "model": response.model,
        "content": content,
        "stop_reason": INTERNAL_TO_ANTHROPIC[response.stop_reason],
        "stop_sequence": stop_sequence if isinstance(stop_sequence, str) else None,
        "usage": encode_usage(response.usage or Usage()),
    }
    return orjson.dumps(body)
