"""Exact upstream event streams, for answers the fakes' scripts cannot produce (a vendor's
rarer blocks and items, its exact event order)."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.faults import RawResponse


def sse_body(events: list[dict[str, Any]], *, named: bool = False) -> bytes:
    """`events` as one SSE body; `named` adds each event's `type` as its `event:` line,
    as Anthropic and OpenAI's Responses API send them."""
    return b"".join(
        (f"event: {e['type']}\n" if named else "").encode()
        + b"data: "
        + json.dumps(e).encode()
        + b"\n\n"
        for e in events
    )


def sse_response(events: list[dict[str, Any]], *, named: bool = False) -> RawResponse:
    """A 200 whose body is `events`, as an event stream."""
    return RawResponse(
        status=200, body=sse_body(events, named=named), content_type="text/event-stream"
    )


def openai_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    """One `chat.completion.chunk` of OpenAI's stream (for `gpt-test`), choice 0."""
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return {
        "id": "chatcmpl-x",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-test",
        "choices": [choice],
    }


def anthropic_message_start(message_id: str, *, input_tokens: int = 10) -> dict[str, Any]:
    """The `message_start` event Anthropic opens a stream with (for `claude-test`)."""
    return {
        "type": "message_start",
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 1},
        },
    }
