"""Anthropic structured output (`output_config.format`) and unsigned thinking, at the codec
and adapter level: decoded, encoded, carried through a rewrite, refused where it cannot
be given; and reasoning Anthropic did not sign is never sent to a client or to Anthropic."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from switchpoint.chat.content import JsonOutput, Message, Text, Thinking
from switchpoint.chat.request import ChatRequest, Conversation
from switchpoint.chat.stream import (
    Finish,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
)
from switchpoint.config.loader import parse_config
from switchpoint.errors import GatewayError
from switchpoint.protocols.anthropic import PROTOCOL as ANTHROPIC
from switchpoint.protocols.anthropic import stream as anthropic_stream
from switchpoint.protocols.anthropic.request import (
    decode_request,
    encode_request,
    without_unsigned_thinking,
)
from switchpoint.protocols.anthropic.stream import StreamEncoder
from switchpoint.protocols.openai import PROTOCOL as OPENAI
from switchpoint.protocols.openai.request import decode_request as decode_openai
from switchpoint.providers.anthropic import AnthropicAdapter, _native_body
from switchpoint.providers.errors import ProviderError
from switchpoint.providers.portability import refuse_unportable
from switchpoint.providers.registry import build_adapters
from switchpoint.transport.http_client import HttpClient
from switchpoint.transport.sse import SSEDecoder

SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}}
FORMAT = {"type": "json_schema", "schema": SCHEMA}


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]} | (
        fields
    )


# --- structured output: decoding and encoding ------------------------------------------


def test_output_config_format_is_decoded_as_json_output() -> None:
    decoded = decode_request(body(output_config={"format": FORMAT, "effort": "low"}))
    assert decoded.json_output == JsonOutput(schema=SCHEMA)


def test_the_beta_output_format_is_decoded_too() -> None:
    assert decode_request(body(output_format=FORMAT)).json_output == JsonOutput(schema=SCHEMA)


def test_output_config_without_a_format_asks_for_no_json() -> None:
    assert decode_request(body(output_config={"effort": "high"})).json_output is None
    assert decode_request(body()).json_output is None


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"output_config": "json"}, "output_config"),
        ({"output_config": {"format": {"type": "json_object"}}}, "output_config.format.type"),
        ({"output_config": {"format": {"type": "json_schema"}}}, "output_config.format.schema"),
        ({"output_format": {"type": "json_schema", "schema": []}}, "output_format.schema"),
    ],
)
def test_a_malformed_output_format_is_a_client_error(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(GatewayError) as caught:
        decode_request(body(**fields))
    assert caught.value.param == param


def test_json_output_with_a_schema_is_encoded_as_output_config() -> None:
    conversation = Conversation(
        messages=[Message("user", [Text("hi")])], json_output=JsonOutput(schema=SCHEMA)
    )
    encoded = encode_request(conversation, "claude", stream=False, max_tokens=10)
    assert encoded["output_config"] == {"format": FORMAT}
    # OpenAI's bare JSON mode has no Anthropic equivalent (the adapter refuses it).
    conversation.json_output = JsonOutput()
    assert "output_config" not in encode_request(conversation, "c", stream=False, max_tokens=1)


# --- structured output: portability -------------------------------------------------------


def test_an_anthropic_client_s_json_output_is_refused_by_a_target_that_cannot_give_it() -> None:
    request = ChatRequest(ANTHROPIC, body(output_config={"format": FORMAT}), stream=False)
    with pytest.raises(ProviderError) as caught:
        refuse_unportable(request)
    assert caught.value.kind == "unsupported"
    assert "'output_config.format' (JSON output)" in str(caught.value)
    refuse_unportable(request, honoured=frozenset({"response_format"}))  # Gemini's case
    beta = ChatRequest(ANTHROPIC, body(output_format=FORMAT), stream=False)
    with pytest.raises(ProviderError, match="'output_format'"):
        refuse_unportable(beta)
    refuse_unportable(ChatRequest(ANTHROPIC, body(output_config={"effort": "low"}), stream=False))


CONFIG = {
    "providers": {
        "an": {"type": "anthropic", "base_url": "http://127.0.0.1:9", "api_key_env": "K"}
    },
    "routing": {
        "default_profile": "p",
        "profiles": {
            "p": {"model": "c", "provider": "an", "max_context": 100_000, "cost_weight": 1}
        },
    },
}


def adapter() -> AnthropicAdapter:
    built = build_adapters(parse_config(CONFIG), HttpClient(), {"K": "key"})["an"]
    assert isinstance(built, AnthropicAdapter)
    return built


def sent(request: ChatRequest, stream: bool = False) -> dict[str, Any]:
    decoded: dict[str, Any] = orjson.loads(adapter()._body(request, "claude-x", stream=stream))
    return decoded


def test_anthropic_gets_an_anthropic_client_s_structured_output_unchanged() -> None:
    client = body(output_config={"format": FORMAT, "effort": "low"})
    request = ChatRequest(ANTHROPIC, client, stream=False, decoder=decode_request)
    assert sent(request)["output_config"] == client["output_config"]
    rewritten = request.replaced(request.conversation())
    assert sent(rewritten)["output_config"] == client["output_config"]


def test_a_rewritten_request_keeps_the_beta_output_format_and_other_output_settings() -> None:
    client = body(output_format=FORMAT, output_config={"effort": "low"})
    request = ChatRequest(ANTHROPIC, client, stream=False, decoder=decode_request)
    rewritten = request.replaced(request.conversation())
    assert sent(rewritten)["output_config"] == {"effort": "low", "format": FORMAT}


def test_other_clients_json_output_is_still_refused_by_anthropic() -> None:
    fields = {
        "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {}}}
    }
    request = ChatRequest(
        OPENAI,
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields},
        stream=False,
        decoder=decode_openai,
    )
    with pytest.raises(ProviderError) as caught:
        sent(request)
    assert caught.value.kind == "unsupported"


# --- unsigned thinking sent to Anthropic ----------------------------------------------


SIGNED = {"type": "thinking", "thinking": "t", "signature": "sig"}
REDACTED = {"type": "redacted_thinking", "data": "opaque"}


def history(*assistant: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": list(assistant)},
        {"role": "user", "content": "again"},
    ]


def test_a_history_without_unsigned_thinking_is_not_copied() -> None:
    assert (
        without_unsigned_thinking(history(SIGNED, REDACTED, {"type": "text", "text": "a"})) is None
    )
    assert without_unsigned_thinking([{"role": "assistant", "content": "plain"}]) is None
    assert without_unsigned_thinking(None) is None


@pytest.mark.parametrize(
    "unsigned",
    [
        {"type": "thinking", "thinking": "t", "signature": ""},
        {"type": "thinking", "thinking": "t"},
        {"type": "thinking", "thinking": "t", "signature": None},
        {"type": "redacted_thinking", "data": ""},
    ],
    ids=["empty", "missing", "null", "redacted-empty"],
)
def test_unsigned_thinking_is_left_out(unsigned: dict[str, Any]) -> None:
    messages = history(unsigned, SIGNED, {"type": "text", "text": "a"})
    kept = without_unsigned_thinking(messages)
    assert kept is not None
    assert kept[1]["content"] == [SIGNED, {"type": "text", "text": "a"}]
    assert kept[0] is messages[0] and kept[2] is messages[2]
    assert messages[1]["content"][0] is unsigned  # the client's body is untouched


def test_a_turn_of_unsigned_thinking_only_is_left_out() -> None:
    messages = history({"type": "thinking", "thinking": "t", "signature": ""})
    assert without_unsigned_thinking(messages) == [messages[0], messages[2]]


def test_the_native_body_loses_unsigned_thinking_and_keeps_the_rest() -> None:
    client = body(messages=history({"type": "thinking", "thinking": "x", "signature": ""}, SIGNED))
    request = ChatRequest(ANTHROPIC, client, stream=False, decoder=decode_request)
    assert sent(request)["messages"][1]["content"] == [SIGNED]
    clean = body(messages=history(SIGNED))
    expected = {**clean, "model": "claude-x", "stream": True}
    assert sent(ChatRequest(ANTHROPIC, clean, stream=True), stream=True) == expected
    # The hot path: a history with nothing to drop is forwarded, not copied.
    assert _native_body(clean, "claude-x", stream=True)["messages"] is clean["messages"]


def test_encoded_thinking_must_be_signed() -> None:
    conversation = Conversation(
        messages=[
            Message("user", [Text("q")]),
            Message(
                "assistant",
                [
                    Thinking("other vendor's"),
                    Thinking("empty", signature=""),
                    Thinking("", redacted_data=""),
                    Thinking("claude's", signature="sig"),
                    Text("a"),
                ],
            ),
            Message("user", [Text("again")]),
        ]
    )
    encoded = encode_request(conversation, "c", stream=False, max_tokens=10)
    assert encoded["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "claude's", "signature": "sig"},
        {"type": "text", "text": "a"},
    ]


# --- the stream an Anthropic client gets ----------------------------------------------


def encoded(events: list[StreamEvent]) -> list[tuple[str, dict[str, Any]]]:
    encoder = StreamEncoder(fallback_id="msg_x")
    wire = b"".join(encoder.encode(e) for e in events)
    out = []
    for event in SSEDecoder().feed(wire):
        assert event.event is not None
        out.append((event.event, json.loads(event.data)))
    return out


def blocks(events: list[tuple[str, dict[str, Any]]]) -> list[tuple[int, str]]:
    return [
        (p["index"], p["content_block"]["type"]) for n, p in events if n == "content_block_start"
    ]


def test_unsigned_reasoning_is_not_streamed() -> None:
    events = encoded(
        [
            ThinkingDelta("Let me think"),
            TextDelta("Checking. "),
            ThinkingDelta("more"),
            ToolCallStart(0, "call_1", "f"),
            ToolCallDelta(0, '{"a": 1}'),
            ThinkingDelta("after"),
            Finish("tool_use"),
        ]
    )
    assert blocks(events) == [(0, "text"), (1, "tool_use")]
    deltas = [p["delta"]["type"] for n, p in events if n == "content_block_delta"]
    assert "thinking_delta" not in deltas
    assert [n for n, _ in events][-2:] == ["message_delta", "message_stop"]


def test_signed_reasoning_is_streamed_as_one_block_with_its_signature() -> None:
    events = encoded(
        [
            ThinkingDelta("Let me "),
            ThinkingDelta("think"),
            ThinkingDelta("", signature="sig-1"),
            ToolCallStart(0, "toolu_1", "f"),
            ToolCallDelta(0, '{"a": 1}'),
            ThinkingDelta("interleaved"),
            ThinkingDelta("", signature="sig-2"),
            ThinkingDelta("", redacted_data="opaque"),
            TextDelta("Done."),
            Finish("end_turn"),
        ]
    )
    assert blocks(events) == [
        (0, "thinking"),
        (1, "tool_use"),
        (2, "thinking"),
        (3, "redacted_thinking"),
        (4, "text"),
    ]
    thinking = [p["delta"] for n, p in events if n == "content_block_delta" and p["index"] == 0]
    assert thinking == [
        {"type": "thinking_delta", "thinking": "Let me think"},
        {"type": "signature_delta", "signature": "sig-1"},
    ]
    stops = [p["index"] for n, p in events if n == "content_block_stop"]
    assert stops == [0, 1, 2, 3, 4]


def test_a_whole_signed_thinking_block_streams_as_one() -> None:
    events = encoded([ThinkingDelta("all of it", signature="sig"), Finish("end_turn")])
    assert blocks(events) == [(0, "thinking")]
    deltas = [p["delta"] for n, p in events if n == "content_block_delta"]
    assert deltas == [
        {"type": "thinking_delta", "thinking": "all of it"},
        {"type": "signature_delta", "signature": "sig"},
    ]


def test_held_reasoning_keeps_the_stream_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = StreamEncoder(fallback_id="msg_x")
    first = encoder.encode(ThinkingDelta("a"))
    assert [e.event for e in SSEDecoder().feed(first)] == ["message_start", "ping"]
    assert encoder.encode(ThinkingDelta("b")) == b""  # just pinged
    monkeypatch.setattr(anthropic_stream, "KEEPALIVE_S", 0.0)
    assert encoder.encode(ThinkingDelta("c")) == b'event: ping\ndata: {"type":"ping"}\n\n'
