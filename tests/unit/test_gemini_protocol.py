"""The Gemini codec: requests from the internal shape, responses and streams back."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from switchpoint.chat.content import (
    Image,
    JsonOutput,
    Message,
    Text,
    Thinking,
    ToolCall,
    ToolChoice,
    ToolResult,
    ToolSpec,
)
from switchpoint.chat.request import Conversation
from switchpoint.chat.stream import (
    Finish,
    MessageStart,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
    UsageUpdate,
)
from switchpoint.chat.usage import Usage
from switchpoint.errors import GatewayError
from switchpoint.protocols.gemini.errors import parse_error
from switchpoint.protocols.gemini.request import encode_request, openapi_schema
from switchpoint.protocols.gemini.response import (
    CallIds,
    FailedToolCall,
    MalformedResponse,
    PromptBlocked,
    decode_response,
)
from switchpoint.protocols.gemini.stream import StreamDecoder
from switchpoint.protocols.stream_error import StreamErrorEvent
from switchpoint.transport.sse import SSEEvent

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}


def conversation() -> Conversation:
    return Conversation(
        system=[Text("Be brief."), Text("Use metric.")],
        messages=[
            Message("user", [Text("Weather?"), Image(media_type="image/png", data="QUJD")]),
            Message(
                "assistant",
                [Thinking("private"), Text(""), ToolCall("toolu_1", "weather", '{"city":"Oslo"}')],
            ),
            Message(
                "user",
                [
                    ToolResult("toolu_1", [Text("-3C"), Image(url="https://x.test/map.webp")]),
                    Text("Thanks"),
                ],
            ),
        ],
        tools=[ToolSpec("weather", "Weather now", SCHEMA)],
        tool_choice=ToolChoice("required"),
        max_tokens=256,
        temperature=0.2,
        top_p=0.8,
        stop=["END"],
        user="ignored",
    )


def test_encode_request() -> None:
    body = encode_request(conversation(), signature_placeholder=True)
    assert body == {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "Weather?"},
                    {"inlineData": {"mimeType": "image/png", "data": "QUJD"}},
                ],
            },
            {
                "role": "model",
                "parts": [
                    {
                        "functionCall": {"name": "weather", "args": {"city": "Oslo"}},
                        "thoughtSignature": "skip_thought_signature_validator",
                    }
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "weather", "response": {"output": "-3C"}}},
                    {"fileData": {"mimeType": "image/webp", "fileUri": "https://x.test/map.webp"}},
                    {"text": "Thanks"},
                ],
            },
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}, {"text": "Use metric."}]},
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "weather",
                        "description": "Weather now",
                        "parametersJsonSchema": SCHEMA,
                    }
                ]
            }
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
        "generationConfig": {
            "maxOutputTokens": 256,
            "temperature": 0.2,
            "topP": 0.8,
            "stopSequences": ["END"],
        },
    }


def test_encode_for_the_stable_api_surface() -> None:
    body = encode_request(conversation(), json_schema=False)
    [declaration] = body["tools"][0]["functionDeclarations"]
    assert declaration["parameters"] == {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    }
    assert "thoughtSignature" not in body["contents"][1]["parts"][0]


def test_json_output_by_api_surface() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    asked = conversation()
    asked.json_output = JsonOutput(schema=schema)
    latest = encode_request(asked)["generationConfig"]
    assert latest["responseMimeType"] == "application/json"
    assert latest["responseJsonSchema"] == schema
    stable = encode_request(asked, json_schema=False)["generationConfig"]
    assert (stable["responseMimeType"], stable["responseSchema"]) == ("application/json", schema)
    assert "responseMimeType" not in encode_request(conversation())["generationConfig"]


def test_openapi_schema_reduction() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "when": {"type": ["string", "null"], "format": "date-time"},
            "mode": {"const": "fast"},
            "tags": {"type": "array", "items": {"type": "string", "examples": ["a"]}},
            "either": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        },
        "additionalProperties": False,
    }
    assert openapi_schema(schema) == {
        "type": "object",
        "properties": {
            "when": {"type": "string", "nullable": True, "format": "date-time"},
            "mode": {"enum": ["fast"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "either": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        },
    }


def test_result_names_come_from_their_calls_or_the_request_fails() -> None:
    named = Conversation(
        messages=[Message("user", [ToolResult("x", [Text("r")], is_error=True, name="f")])]
    )
    parts = encode_request(named)["contents"][0]["parts"]
    assert parts == [{"functionResponse": {"name": "f", "response": {"error": "r"}}}]
    orphan = Conversation(messages=[Message("user", [ToolResult("nowhere", [Text("r")])])])
    with pytest.raises(GatewayError) as caught:
        encode_request(orphan)
    assert caught.value.status == 400 and "nowhere" in caught.value.message


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        (ToolChoice("auto"), {"mode": "AUTO"}),
        (ToolChoice("none"), {"mode": "NONE"}),
        (ToolChoice("tool", name="weather"), {"mode": "ANY", "allowedFunctionNames": ["weather"]}),
    ],
)
def test_tool_choice(choice: ToolChoice, config: dict[str, Any]) -> None:
    body = encode_request(
        Conversation(
            messages=[Message("user", [Text("q")])],
            tools=[ToolSpec("weather", None, SCHEMA)],
            tool_choice=choice,
        )
    )
    assert body["toolConfig"] == {"functionCallingConfig": config}


def response_body(**overrides: Any) -> bytes:
    body: dict[str, Any] = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "thinking...", "thought": True},
                        {"text": "Calling."},
                        {"functionCall": {"name": "weather", "args": {"city": "Oslo"}}},
                        {"functionCall": {"id": "given-id", "name": "time", "args": {}}},
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 120,
            "candidatesTokenCount": 30,
            "thoughtsTokenCount": 12,
            "cachedContentTokenCount": 100,
            "totalTokenCount": 162,
        },
        "modelVersion": "gemini-3-test-001",
        "responseId": "resp-1",
    }
    body.update(overrides)
    return orjson.dumps(body)


def test_decode_response() -> None:
    response = decode_response(response_body(), model="gemini-3-test", ids=CallIds("call_t_"))
    assert response.id == "resp-1"
    assert response.model == "gemini-3-test-001"
    assert response.content == [
        Thinking("thinking..."),  # never with a signature: only Anthropic's are real ones
        Text("Calling."),
        ToolCall("call_t_0", "weather", '{"city":"Oslo"}'),
        ToolCall("given-id", "time", "{}"),
    ]
    # Gemini ends a function-calling turn with STOP.
    assert response.stop_reason == "tool_use"
    # Thinking is billed as output, and said to be thinking.
    assert response.usage == Usage(
        input_tokens=120,
        output_tokens=42,
        cached_input_tokens=100,
        cache_write_tokens=0,
        reasoning_tokens=12,
    )


@pytest.mark.parametrize(
    ("finish", "expected"),
    [
        ("MAX_TOKENS", "max_tokens"),
        ("SAFETY", "content_filter"),
        ("STOP", "end_turn"),
        # An image model's answer blocked: a filter, not an empty answer that looks whole.
        ("IMAGE_PROHIBITED_CONTENT", "content_filter"),
        ("IMAGE_RECITATION", "content_filter"),
    ],
)
def test_finish_reasons(finish: str, expected: str) -> None:
    body = response_body(
        candidates=[{"content": {"parts": [{"text": "x"}]}, "finishReason": finish}]
    )
    assert decode_response(body, model="m").stop_reason == expected


@pytest.mark.parametrize(
    "finish", ["MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"]
)
def test_a_turn_ended_for_want_of_a_valid_tool_call_is_a_failure_not_an_answer(
    finish: str,
) -> None:
    # Gemini sends these with no call and often no content: passed on as a stop, an
    # agent would take the leftover (or nothing) as the model's final answer.
    body = response_body(
        candidates=[{"content": {"parts": [{"text": "Let me"}]}, "finishReason": finish}]
    )
    with pytest.raises(FailedToolCall, match=finish) as caught:
        decode_response(body, model="m")
    assert caught.value.reason == finish
    decoder = StreamDecoder("m")
    decoder.decode(chunk(candidates=[{"content": {"parts": [{"text": "Let me"}]}}]))
    with pytest.raises(FailedToolCall):
        decoder.decode(chunk(candidates=[{"finishReason": finish}]))
    assert not decoder.saw_finish_reason


def test_decode_response_edge_cases() -> None:
    blocked = orjson.dumps({"promptFeedback": {"blockReason": "SAFETY"}})
    with pytest.raises(PromptBlocked) as caught:
        decode_response(blocked, model="m")
    assert caught.value.reason == "SAFETY"
    with pytest.raises(MalformedResponse):
        decode_response(b"{", model="m")
    with pytest.raises(MalformedResponse):
        decode_response(b'{"candidates": []}', model="m")
    bare = decode_response(
        orjson.dumps({"candidates": [{"finishReason": "SAFETY"}]}), model="asked-for"
    )
    assert bare.model == "asked-for" and bare.content == [] and bare.usage is None


def test_synthesized_ids_are_unique_per_answer() -> None:
    first = decode_response(response_body(), model="m").tool_calls()[0].id
    second = decode_response(response_body(), model="m").tool_calls()[0].id
    assert first != second
    assert first.startswith("call_") and first.replace("_", "").isalnum()


def chunk(**fields: Any) -> SSEEvent:
    return SSEEvent(None, orjson.dumps(fields))


def test_stream_decoder() -> None:
    decoder = StreamDecoder("gemini-3-test", CallIds("c_"))
    events = []
    for sse in [
        chunk(
            candidates=[{"content": {"parts": [{"text": "mull", "thought": True}]}}],
            usageMetadata={"promptTokenCount": 9},
            responseId="r1",
        ),
        SSEEvent(None, b"{garbage"),
        chunk(candidates=[{"content": {"parts": [{"text": "Hel"}]}}]),
        chunk(candidates=[{"content": {"parts": [{"text": "lo"}]}}]),
        chunk(
            candidates=[
                {
                    "content": {"parts": [{"functionCall": {"name": "f", "args": {"a": 1}}}]},
                    "finishReason": "STOP",
                }
            ],
            usageMetadata={"promptTokenCount": 9, "candidatesTokenCount": 4},
        ),
    ]:
        events.extend(decoder.decode(sse))
    assert decoder.saw_finish_reason and not decoder.finished
    events.extend(decoder.finish())
    assert events == [
        MessageStart("r1", "gemini-3-test"),
        ThinkingDelta("mull"),
        UsageUpdate(Usage(9, 0, 0, 0)),
        TextDelta("Hel"),
        TextDelta("lo"),
        ToolCallStart(0, "c_0", "f"),
        ToolCallDelta(0, '{"a":1}'),
        UsageUpdate(Usage(9, 4, 0, 0)),
        Finish("tool_use"),
    ]
    assert decoder.invalid_events == 1
    assert decoder.finish() == []


def test_stream_decoder_errors() -> None:
    decoder = StreamDecoder("m")
    with pytest.raises(PromptBlocked):
        decoder.decode(chunk(promptFeedback={"blockReason": "PROHIBITED_CONTENT"}))
    with pytest.raises(StreamErrorEvent) as caught:
        decoder.decode(chunk(error={"code": 503, "message": "busy", "status": "UNAVAILABLE"}))
    assert str(caught.value) == "busy"
    assert not decoder.saw_finish_reason


def test_parse_error_details() -> None:
    error = parse_error(
        [
            {
                "error": {
                    "code": 429,
                    "message": "quota",
                    "status": "RESOURCE_EXHAUSTED",
                    "details": [
                        {
                            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                            "violations": [{"quotaId": "GenerateRequestsPerDayPerProject"}],
                        },
                        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"},
                        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "X"},
                    ],
                }
            }
        ]
    )
    assert (error.message, error.status) == ("quota", "RESOURCE_EXHAUSTED")
    assert error.quota_ids() == ["GenerateRequestsPerDayPerProject"]
    assert error.retry_delay_s() == 17.0
    assert error.reasons() == ["X"]
    assert parse_error("nonsense").message is None


def test_thought_signatures_go_back_on_their_calls() -> None:
    """Gemini's own signature on a call it made; Google's placeholder on the first call
    of a turn the gateway holds none for; nothing on the other calls of a turn."""
    turns = Conversation(
        messages=[
            Message("user", [Text("q")]),
            Message("assistant", [ToolCall("a", "f", "{}"), ToolCall("b", "g", "{}")]),
            Message("user", [ToolResult("a", [Text("1")]), ToolResult("b", [Text("2")])]),
            Message(
                "assistant", [Text("more"), ToolCall("c", "f", "{}"), ToolCall("d", "g", "{}")]
            ),
            Message("user", [ToolResult("c", [Text("3")]), ToolResult("d", [Text("4")])]),
        ]
    )
    body = encode_request(turns, signatures={"a": "SIG-A"}, signature_placeholder=True)
    first, second = body["contents"][1]["parts"], body["contents"][3]["parts"]
    assert [p.get("thoughtSignature") for p in first] == ["SIG-A", None]
    assert [p.get("thoughtSignature") for p in second] == [
        None,
        "skip_thought_signature_validator",
        None,
    ]
    plain = encode_request(turns, signatures={"a": "SIG-A"})
    assert [p.get("thoughtSignature") for p in plain["contents"][3]["parts"]] == [None] * 3


def test_decoders_collect_thought_signatures() -> None:
    body = response_body(
        candidates=[
            {
                "content": {
                    "parts": [
                        {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "S1"},
                        {"functionCall": {"name": "g", "args": {}}},
                    ]
                },
                "finishReason": "STOP",
            }
        ]
    )
    ids = CallIds("k_")
    decode_response(body, model="m", ids=ids)
    assert ids.signatures == {"k_0": "S1"}
    decoder = StreamDecoder("m", CallIds("s_"))
    decoder.decode(SSEEvent(None, body))
    assert decoder.signatures == {"s_0": "S1"}
