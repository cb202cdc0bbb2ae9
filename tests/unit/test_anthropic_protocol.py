"""The Anthropic Messages codec: requests, responses, streams and errors, both ways."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from switchpoint.chat.content import Image, Message, Text, Thinking, ToolCall, ToolResult
from switchpoint.chat.request import Conversation
from switchpoint.chat.response import ChatResponse
from switchpoint.chat.stream import (
    Finish,
    MessageStart,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
    UsageUpdate,
)
from switchpoint.chat.usage import Usage
from switchpoint.errors import GatewayError
from switchpoint.protocols.anthropic.errors import error_body
from switchpoint.protocols.anthropic.request import decode_request, encode_request, tool_id
from switchpoint.protocols.anthropic.response import decode_response, encode_response
from switchpoint.protocols.anthropic.stream import StreamDecoder, StreamEncoder
from switchpoint.protocols.stream_error import StreamErrorEvent
from switchpoint.transport.sse import SSEDecoder, SSEEvent

EPHEMERAL = {"type": "ephemeral"}

FULL_REQUEST: dict[str, Any] = {
    "model": "claude",
    "max_tokens": 500,
    "system": [
        {"type": "text", "text": "Be exact.", "cache_control": EPHEMERAL},
        {"type": "text", "text": "Cite sources."},
    ],
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look at this", "cache_control": EPHEMERAL},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/jpeg", "data": "QUJD"},
                },
                {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig1"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "a"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [{"type": "text", "text": "found"}],
                    "cache_control": EPHEMERAL,
                },
                {"type": "text", "text": "and?"},
            ],
        },
    ],
    "tools": [
        {
            "name": "lookup",
            "description": "Look up",
            "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
            "cache_control": EPHEMERAL,
        }
    ],
    "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
    "stop_sequences": ["END"],
    "metadata": {"user_id": "u-1"},
    "temperature": 0.4,
}


def test_decode_request_keeps_everything_the_internal_shape_holds() -> None:
    conversation = decode_request(FULL_REQUEST)
    assert [t.text for t in conversation.system] == ["Be exact.", "Cite sources."]
    assert conversation.system[0].cache_control == EPHEMERAL
    user, assistant, results = conversation.messages
    assert user.content == [
        Text("Look at this", EPHEMERAL),
        Image(media_type="image/jpeg", data="QUJD"),
        Image(url="https://x.test/a.png"),
    ]
    assert assistant.content == [
        Thinking("hmm", signature="sig1"),
        Thinking("", redacted_data="opaque"),
        Text("Checking."),
        ToolCall("toolu_1", "lookup", '{"q":"a"}'),
    ]
    assert results.content == [
        ToolResult("toolu_1", [Text("found")], cache_control=EPHEMERAL),
        Text("and?"),
    ]
    assert conversation.tools[0].cache_control == EPHEMERAL
    assert conversation.tool_choice is not None
    assert (conversation.tool_choice.mode, conversation.tool_choice.parallel) == ("required", False)
    assert conversation.stop == ["END"]
    assert conversation.user == "u-1"
    assert conversation.max_tokens == 500
    assert conversation.temperature == 0.4


def test_anthropic_round_trip_through_the_internal_shape() -> None:
    encoded = encode_request(decode_request(FULL_REQUEST), "claude", stream=True, max_tokens=9)
    # Everything but the sampling parameters, which current Claude models refuse.
    expected = {k: v for k, v in FULL_REQUEST.items() if k != "temperature"}
    assert encoded == {**expected, "stream": True}


def test_encode_drops_what_anthropic_would_refuse() -> None:
    conversation = Conversation(
        messages=[
            Message("user", [Text("q"), Text("")]),
            Message(
                "assistant",
                [Thinking("unsigned reasoning from another vendor"), Text("a  \n")],
            ),
        ],
        temperature=0.7,
        top_p=0.9,
    )
    body = encode_request(conversation, "claude", stream=False, max_tokens=64)
    assert body["max_tokens"] == 64
    assert "temperature" not in body and "top_p" not in body
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "q"}]},
        # A final assistant turn (prefill) must not end in whitespace.
        {"role": "assistant", "content": [{"type": "text", "text": "a"}]},
    ]


def test_tool_results_come_first_and_ids_are_made_acceptable() -> None:
    conversation = Conversation(
        messages=[
            Message("assistant", [ToolCall("call:1/x", "f", "{}")]),
            Message("user", [Text("also"), ToolResult("call:1/x", [Text("ok")], is_error=True)]),
        ]
    )
    body = encode_request(conversation, "claude", stream=False, max_tokens=10)
    assert body["messages"][0]["content"][0]["id"] == "call_1_x"
    first, second = body["messages"][1]["content"]
    assert first == {
        "type": "tool_result",
        "tool_use_id": "call_1_x",
        "content": [{"type": "text", "text": "ok"}],
        "is_error": True,
    }
    assert second == {"type": "text", "text": "also"}
    assert tool_id("toolu_ok-1") == "toolu_ok-1"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        ({"max_tokens": 0, "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        ({"max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}, "messages[0].role"),
        (
            {"max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "video"}]}]},
            "messages[0].content[0].type",
        ),
        (
            {
                "max_tokens": 5,
                "messages": [
                    {"role": "user", "content": [{"type": "tool_use", "id": "a", "name": "b"}]}
                ],
            },
            "messages[0].content[0]",
        ),
        (
            {
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "web_search_20250305", "name": "web_search"}],
            },
            "tools[0].type",
        ),
        (
            {
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "x"}],
                "tool_choice": {"type": "sometimes"},
            },
            "tool_choice.type",
        ),
    ],
)
def test_decode_rejects_what_cannot_be_translated(body: dict[str, Any], param: str) -> None:
    with pytest.raises(GatewayError) as caught:
        decode_request(body)
    assert caught.value.status == 400
    assert caught.value.param == param
    assert param in caught.value.message


def test_response_usage_counts_the_whole_prompt() -> None:
    raw = orjson.dumps(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-x",
            "content": [
                {"type": "thinking", "thinking": "t", "signature": "s"},
                {"type": "text", "text": "hi"},
                {"type": "tool_use", "id": "toolu_9", "name": "f", "input": {"a": 1}},
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search"},
            ],
            "stop_reason": "stop_sequence",
            "stop_sequence": "END",
            "usage": {
                "input_tokens": 10,
                "cache_read_input_tokens": 70,
                "cache_creation_input_tokens": 20,
                "output_tokens": 5,
            },
        }
    )
    response = decode_response(raw)
    assert response.usage == Usage(100, 5, 70, 20)
    assert response.stop_reason == "stop_sequence"
    assert response.content == [
        Thinking("t", "s"),
        Text("hi"),
        ToolCall("toolu_9", "f", '{"a":1}'),
    ]
    assert encode_response(response, "req") == raw  # same protocol: the vendor's bytes


def test_encode_response_from_another_vendor() -> None:
    response = ChatResponse(
        id="chatcmpl-1",
        model="gpt-x",
        content=[Thinking("unsigned"), Text("hi"), ToolCall("call_1", "f", "not json")],
        stop_reason="tool_use",
        usage=Usage(input_tokens=100, output_tokens=9, cached_input_tokens=40),
    )
    body = json.loads(encode_response(response, "req"))
    assert body == {
        "id": "msg_chatcmpl-1",
        "type": "message",
        "role": "assistant",
        "model": "gpt-x",
        "content": [
            {"type": "text", "text": "hi"},
            {"type": "tool_use", "id": "call_1", "name": "f", "input": {}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 60,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 40,
            "output_tokens": 9,
        },
    }


# --- streams ------------------------------------------------------------------------


def sse(name: str, payload: dict[str, Any]) -> SSEEvent:
    return SSEEvent(name, orjson.dumps(payload))


VENDOR_STREAM = [
    sse(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_7",
                "model": "claude-x",
                "usage": {"input_tokens": 10, "cache_read_input_tokens": 30, "output_tokens": 1},
            },
        },
    ),
    sse(
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
        },
    ),
    sse("ping", {"type": "ping"}),
    sse(
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "hm"},
        },
    ),
    sse(
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "S"},
        },
    ),
    sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
    sse(
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "redacted_thinking", "data": "R"},
        },
    ),
    sse("content_block_stop", {"type": "content_block_stop", "index": 1}),
    sse(
        "content_block_start",
        {"type": "content_block_start", "index": 2, "content_block": {"type": "text", "text": ""}},
    ),
    sse(
        "content_block_delta",
        {"type": "content_block_delta", "index": 2, "delta": {"type": "text_delta", "text": "Hi"}},
    ),
    sse("content_block_stop", {"type": "content_block_stop", "index": 2}),
    sse(
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 3,
            "content_block": {"type": "tool_use", "id": "toolu_2", "name": "f", "input": {}},
        },
    ),
    sse(
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 3,
            "delta": {"type": "input_json_delta", "partial_json": ""},
        },
    ),
    sse(
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 3,
            "delta": {"type": "input_json_delta", "partial_json": '{"a":'},
        },
    ),
    sse(
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 3,
            "delta": {"type": "input_json_delta", "partial_json": "1}"},
        },
    ),
    sse("content_block_stop", {"type": "content_block_stop", "index": 3}),
    sse(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 12},
        },
    ),
    sse("message_stop", {"type": "message_stop"}),
]

INTERNAL_STREAM: list[StreamEvent] = [
    MessageStart("msg_7", "claude-x"),
    UsageUpdate(Usage(40, 1, 30, 0)),
    ThinkingDelta("hm", signed=True),
    ThinkingDelta("", signature="S", signed=True),
    ThinkingDelta("", redacted_data="R"),
    TextDelta("Hi"),
    ToolCallStart(0, "toolu_2", "f"),
    ToolCallDelta(0, '{"a":'),
    ToolCallDelta(0, "1}"),
    UsageUpdate(Usage(40, 12, 30, 0)),
    Finish("tool_use"),
]


def test_stream_decoder_reads_the_whole_event_sequence() -> None:
    decoder = StreamDecoder()
    events = [e for sse_event in VENDOR_STREAM for e in decoder.decode(sse_event)]
    assert events == INTERNAL_STREAM
    assert decoder.finished and decoder.invalid_events == 0


def test_stream_decoder_counts_junk_and_raises_vendor_errors() -> None:
    decoder = StreamDecoder()
    assert decoder.decode(SSEEvent("content_block_delta", b"{not json")) == []
    assert decoder.decode(SSEEvent("content_block_delta", b"[1]")) == []
    assert decoder.decode(sse("content_block_delta", {"type": "content_block_delta"})) == []
    assert decoder.invalid_events == 3
    assert decoder.decode(sse("brand_new_event", {"type": "brand_new_event"})) == []
    with pytest.raises(StreamErrorEvent) as caught:
        decoder.decode(
            sse(
                "error", {"type": "error", "error": {"type": "overloaded_error", "message": "Busy"}}
            )
        )
    assert str(caught.value) == "Busy"
    assert not decoder.finished and not decoder.saw_finish_reason


def encoded_events(events: list[StreamEvent]) -> list[tuple[str, dict[str, Any]]]:
    encoder = StreamEncoder(fallback_id="msg_fallback")
    wire = b"".join(encoder.encode(e) for e in events)
    out = []
    for event in SSEDecoder().feed(wire):
        assert event.event is not None
        payload = json.loads(event.data)
        assert payload["type"] == event.event
        out.append((event.event, payload))
    return out


def test_signed_reasoning_is_relayed_as_it_comes() -> None:
    # Claude's thinking reaches the client live (Claude Code shows it as it is written);
    # reasoning no vendor will sign is held, and dropped if no signature comes.
    encoder = StreamEncoder(fallback_id="msg_fallback")
    encoder.encode(MessageStart("msg_1", "claude-x"))
    live = SSEDecoder().feed(encoder.encode(ThinkingDelta("thinking...", signed=True)))
    assert [e.event for e in live][-2:] == ["content_block_start", "content_block_delta"]
    assert json.loads(live[-1].data)["delta"] == {
        "type": "thinking_delta",
        "thinking": "thinking...",
    }
    unsigned = StreamEncoder(fallback_id="msg_fallback")
    unsigned.encode(MessageStart("msg_2", "gemini-x"))
    assert b"thinking" not in unsigned.encode(ThinkingDelta("thoughts"))
    assert b"thinking" not in unsigned.encode(TextDelta("answer"))


def test_stream_encoder_renders_the_anthropic_sequence() -> None:
    events = encoded_events(INTERNAL_STREAM)
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "ping",
        "content_block_start",  # thinking
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",  # redacted thinking
        "content_block_stop",
        "content_block_start",  # text
        "content_block_delta",
        "content_block_stop",
        "content_block_start",  # tool use
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = events[0][1]["message"]
    assert start["id"] == "msg_7" and start["model"] == "claude-x"
    # Usage known at the start is in message_start, as Anthropic sends it.
    assert start["usage"]["input_tokens"] == 10
    assert start["usage"]["cache_read_input_tokens"] == 30
    blocks = [p["content_block"] for n, p in events if n == "content_block_start"]
    assert [b["type"] for b in blocks] == ["thinking", "redacted_thinking", "text", "tool_use"]
    assert [p["index"] for n, p in events if n == "content_block_start"] == [0, 1, 2, 3]
    assert blocks[3] == {"type": "tool_use", "id": "toolu_2", "name": "f", "input": {}}
    deltas = [p["delta"] for n, p in events if n == "content_block_delta"]
    assert deltas == [
        {"type": "thinking_delta", "thinking": "hm"},
        {"type": "signature_delta", "signature": "S"},
        {"type": "text_delta", "text": "Hi"},
        {"type": "input_json_delta", "partial_json": '{"a":'},
        {"type": "input_json_delta", "partial_json": "1}"},
    ]
    final = events[-2][1]
    assert final["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert final["usage"] == {
        "input_tokens": 10,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 30,
        "output_tokens": 12,
    }


def test_stream_encoder_with_usage_at_the_end() -> None:
    """OpenAI and Gemini report usage last: message_delta carries it all."""
    events = encoded_events(
        [
            MessageStart("chatcmpl-1", "gpt-x"),
            TextDelta("a"),
            TextDelta("b"),
            UsageUpdate(Usage(50, 2, 20, 0)),
            Finish("max_tokens"),
        ]
    )
    assert events[0][1]["message"]["id"] == "msg_chatcmpl-1"
    assert events[0][1]["message"]["usage"]["input_tokens"] == 0
    assert [n for n, _ in events].count("content_block_start") == 1
    final = events[-2][1]
    assert final["delta"]["stop_reason"] == "max_tokens"
    assert final["usage"]["input_tokens"] == 30
    assert final["usage"]["cache_read_input_tokens"] == 20
    assert final["usage"]["output_tokens"] == 2


def test_stream_encoder_empty_answer_and_error() -> None:
    events = encoded_events([MessageStart("", "m"), Finish("end_turn")])
    assert [n for n, _ in events] == ["message_start", "ping", "message_delta", "message_stop"]
    assert events[0][1]["message"]["id"] == "msg_fallback"
    encoder = StreamEncoder(fallback_id="msg_x")
    body = error_body(GatewayError("upstream_error", "cut", status=502))
    assert encoder.encode_error(body) == (
        b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"cut"}}\n\n'
    )


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        ("invalid_request", None, "invalid_request_error"),
        ("authentication", None, "authentication_error"),
        ("permission", None, "permission_error"),
        ("not_found", None, "not_found_error"),
        ("method_not_allowed", None, "invalid_request_error"),
        ("request_too_large", None, "request_too_large"),
        ("rate_limit", None, "rate_limit_error"),
        ("budget_exceeded", None, "budget_exceeded"),
        ("overloaded", None, "overloaded_error"),
        ("overloaded", 503, "overloaded_error"),
        ("upstream_error", 529, "overloaded_error"),
        ("timeout", None, "timeout_error"),
        ("upstream_error", None, "api_error"),
        ("internal", None, "api_error"),
    ],
)
def test_error_types(kind: Any, status: int | None, expected: str) -> None:
    body = error_body(GatewayError(kind, "why", status=status))
    assert body == {"type": "error", "error": {"type": expected, "message": "why"}}


def streamed_finish(delta: dict[str, Any]) -> list[StreamEvent]:
    """What a stream that ends with this `message_delta` decodes to at its end."""
    decoder = StreamDecoder()
    decoder.decode(sse("message_start", {"type": "message_start", "message": {"id": "m"}}))
    payload = {"type": "message_delta", "delta": delta, "usage": {"output_tokens": 3}}
    decoder.decode(sse("message_delta", payload))
    return decoder.decode(sse("message_stop", {"type": "message_stop"}))


def test_stream_keeps_the_matched_stop_sequence() -> None:
    finish = streamed_finish({"stop_reason": "stop_sequence", "stop_sequence": "END"})
    assert finish == [Finish("stop_sequence", "END")]
    events = encoded_events([MessageStart("m", "c"), TextDelta("x"), *finish])
    assert events[-2][1]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "END"}


def test_a_full_context_window_is_not_taken_for_the_requests_maximum() -> None:
    """Claude ends with `model_context_window_exceeded` when the window, not max_tokens,
    cut the answer: an Anthropic client gets that back (an agent compacts on it, where
    `max_tokens` would have it ask for more); OpenAI-shaped clients get their `length`."""
    from switchpoint.protocols.openai.stream import StreamEncoder as OpenAIEncoder
    from switchpoint.protocols.openai_responses.response import status_of

    finish = streamed_finish({"stop_reason": "model_context_window_exceeded"})
    assert len(finish) == 1 and isinstance(finish[0], Finish)
    events = encoded_events([MessageStart("m", "c"), TextDelta("x"), *finish])
    assert events[-2][1]["delta"]["stop_reason"] == "model_context_window_exceeded"
    whole = decode_response(
        orjson.dumps(
            {
                "type": "message",
                "id": "m",
                "model": "c",
                "role": "assistant",
                "content": [{"type": "text", "text": "x"}],
                "stop_reason": "model_context_window_exceeded",
                "usage": {"input_tokens": 1, "output_tokens": 1},
            }
        )
    )
    assert whole.stop_reason == finish[0].stop_reason
    openai = OpenAIEncoder(include_usage=False, fallback_id="f")
    wire = b"".join(openai.encode(e) for e in [MessageStart("m", "c"), *finish])
    assert b'"finish_reason":"length"' in wire
    assert status_of(finish[0].stop_reason) == ("incomplete", {"reason": "max_output_tokens"})
