"""The OpenAI Responses codec: items to the internal conversation, and answers and
streams back to response objects and lifecycle events."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from switchpoint.chat.content import Image, Message, Text, ToolCall, ToolResult
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
from switchpoint.ingress.openai_responses import OpenAIResponsesCodec
from switchpoint.protocols.anthropic.response import (
    encode_response as anthropic_encode_response,
)
from switchpoint.protocols.openai.request import encode_request
from switchpoint.protocols.openai.response import decode_response as openai_decode_response
from switchpoint.protocols.openai.response import encode_response as openai_encode_response
from switchpoint.protocols.openai_responses.request import decode_request
from switchpoint.protocols.openai_responses.request import (
    encode_request as encode_responses_request,
)
from switchpoint.protocols.openai_responses.response import (
    MalformedResponse,
    decode_response,
    encode_response,
    message_item,
    response_echo,
)
from switchpoint.protocols.openai_responses.stream import StreamDecoder, StreamEncoder
from switchpoint.protocols.stream_error import StreamErrorEvent
from switchpoint.transport.sse import SSEDecoder, SSEEvent

CODEX_LIKE: dict[str, Any] = {
    "model": "coder",
    "instructions": "You are a coding agent.",
    "input": [
        {
            "type": "message",
            "role": "developer",
            "content": [{"type": "input_text", "text": "Be brief."}],
        },
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "List files"}],
        },
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "opaque"},
        {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": '{"cmd":"ls"}'},
        {"type": "function_call", "call_id": "c2", "name": "shell", "arguments": '{"cmd":"pwd"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "a.py"},
        {
            "type": "function_call_output",
            "call_id": "c2",
            "output": [{"type": "input_text", "text": "/w"}],
        },
        {
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Two files.", "annotations": []}],
        },
        {
            "role": "user",
            "switchpoint_keep": True,
            "content": [
                {"type": "input_text", "text": "And this?"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
            ],
        },
    ],
    "tools": [{"type": "function", "name": "shell", "parameters": {"type": "object"}}],
    "tool_choice": {"type": "function", "name": "shell"},
    "parallel_tool_calls": False,
    "max_output_tokens": 256,
    "include": ["reasoning.encrypted_content"],
    "store": False,
}


def test_codex_like_request_decodes_to_alternating_turns() -> None:
    conversation = decode_request(CODEX_LIKE)
    assert conversation.system_text() == "You are a coding agent.\n\nBe brief."
    user, calls, results, answer, last = conversation.messages
    assert user == Message("user", [Text("List files")])
    # Parallel calls are one assistant turn, their outputs one user turn; the replayed
    # reasoning is left out.
    assert calls.content == [
        ToolCall("c1", "shell", '{"cmd":"ls"}'),
        ToolCall("c2", "shell", '{"cmd":"pwd"}'),
    ]
    assert results.content == [
        ToolResult("c1", [Text("a.py")]),
        ToolResult("c2", [Text("/w")]),
    ]
    assert answer == Message("assistant", [Text("Two files.")])
    assert last.keep
    assert last.content == [Text("And this?"), Image(media_type="image/png", data="AAAA")]
    assert conversation.max_tokens == 256
    assert conversation.tool_choice is not None
    assert (conversation.tool_choice.mode, conversation.tool_choice.name) == ("tool", "shell")
    assert conversation.tool_choice.parallel is False
    [tool] = conversation.tools
    assert tool.name == "shell" and tool.parameters == {"type": "object"}


def test_reencoded_for_openai_chat() -> None:
    body = encode_request(decode_request(CODEX_LIKE), "gpt", stream=False)
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "tool", "assistant", "user"]
    assert body["max_completion_tokens"] == 256
    assert body["tool_choice"] == {"type": "function", "function": {"name": "shell"}}
    assert body["parallel_tool_calls"] is False


def test_keep_flags_are_stripped_after_decoding() -> None:
    body = json.loads(json.dumps(CODEX_LIKE))
    codec = OpenAIResponsesCodec()
    assert codec.decode(body).messages[-1].keep
    assert codec.strip_extensions(body)
    assert all("switchpoint_keep" not in item for item in body["input"])
    assert not codec.strip_extensions(body)


def test_string_input_and_parse() -> None:
    codec = OpenAIResponsesCodec()
    parsed = codec.parse({"model": "m", "input": "hi", "stream": True, "temperature": 0.5})
    assert (parsed.model, parsed.stream) == ("m", True)
    assert parsed.echo is not None and parsed.echo["temperature"] == 0.5
    assert codec.decode({"input": "hi"}).messages == [Message("user", [Text("hi")])]


def test_input_of_only_instructions_is_refused() -> None:
    with pytest.raises(GatewayError) as caught:
        decode_request({"input": [{"role": "system", "content": "only this"}]})
    assert caught.value.param == "input" and "other than system" in caught.value.message


def answer(stop: Any, content: list[Any]) -> ChatResponse:
    return ChatResponse("up-1", "model-x", content, stop, Usage(10, 5, 2, 1))


def test_whole_answer_items_and_usage() -> None:
    body = json.loads(
        encode_response(
            answer("tool_use", [Text("Checking."), ToolCall("", "shell", "{}")]),
            "rq",
            response_echo({"tools": [], "temperature": 0.2}),
        )
    )
    assert body["id"] == "resp_rq" and body["status"] == "completed"
    message, call = body["output"]
    assert message["id"] == "msg_rq_0" and message["content"][0]["text"] == "Checking."
    # A vendor that gave the call no id gets one made up: the client must send it back.
    assert call["id"] == "fc_rq_1" and call["call_id"] == "call_rq_1"
    assert body["usage"] == {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 2, "cache_write_tokens": 1},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 15,
    }
    assert body["temperature"] == 0.2 and body["store"] is False


def test_content_filter_is_incomplete() -> None:
    body = json.loads(encode_response(answer("content_filter", [Text("")]), "rq", {}))
    assert body["status"] == "incomplete"
    assert body["incomplete_details"] == {"reason": "content_filter"}


def events(encoder: StreamEncoder, stream: list[StreamEvent]) -> list[dict[str, Any]]:
    raw = b"".join(encoder.encode(event) for event in stream)
    return decode_sse(raw)


def decode_sse(raw: bytes) -> list[dict[str, Any]]:
    decoded = SSEDecoder().feed(raw)
    payloads = [json.loads(e.data) for e in decoded]
    for event, payload in zip(decoded, payloads, strict=True):
        assert event.event == payload["type"]
    return payloads


def test_stream_interleaved_calls_cut_by_the_limit() -> None:
    """Deltas reach their own call's item, one item after the other (the second call is
    held back until the first is complete); only the item being written when the limit
    cut the answer is incomplete."""
    encoder = StreamEncoder("rq", {})
    out = events(
        encoder,
        [
            MessageStart("up", "model-x"),
            ThinkingDelta("hmm"),
            ToolCallStart(0, "a", "one"),
            ToolCallStart(1, "b", "two"),
            ToolCallDelta(0, '{"x":'),
            ToolCallDelta(1, '{"y"'),
            ToolCallDelta(0, "1}"),
            UsageUpdate(Usage(7, 0)),
            UsageUpdate(Usage(0, 3)),
            Finish("max_tokens"),
        ],
    )
    assert [e["sequence_number"] for e in out] == list(range(len(out)))
    assert "hmm" not in json.dumps(out), "reasoning is not rendered"
    deltas = [(e["output_index"], e["delta"]) for e in out if e["type"].endswith("arguments.delta")]
    assert deltas == [(0, '{"x":'), (0, "1}"), (1, '{"y"')]
    done = [e["item"] for e in out if e["type"] == "response.output_item.done"]
    assert [(i["arguments"], i["status"]) for i in done] == [
        ('{"x":1}', "completed"),
        ('{"y"', "incomplete"),
    ]
    final = out[-1]
    assert final["type"] == "response.incomplete"
    assert final["response"]["usage"]["input_tokens"] == 7
    assert final["response"]["usage"]["output_tokens"] == 3
    assert [i["status"] for i in final["response"]["output"]] == ["completed", "incomplete"]


def test_stream_text_after_a_call_is_a_new_message() -> None:
    out = events(
        StreamEncoder("rq", {}),
        [
            MessageStart("up", "m"),
            TextDelta("before"),
            ToolCallStart(0, "a", "one"),
            TextDelta("after"),
            Finish("end_turn"),
        ],
    )
    added = [e["item"]["id"] for e in out if e["type"] == "response.output_item.added"]
    assert added == ["msg_rq_0", "fc_rq_1", "msg_rq_2"]
    texts = [e["text"] for e in out if e["type"] == "response.output_text.done"]
    assert texts == ["before", "after"]
    assert out[-1]["type"] == "response.completed"


def test_stream_error_before_any_event_still_opens_the_lifecycle() -> None:
    encoder = StreamEncoder("rq", {})
    error = {"error": {"message": "slow down", "type": "rate_limit_error", "code": "x"}}
    out = decode_sse(encoder.encode_error(error))
    assert [e["type"] for e in out] == [
        "response.created",
        "response.in_progress",
        "error",
        "response.failed",
    ]
    assert out[2]["message"] == "slow down" and out[2]["error"] == error["error"]
    assert out[3]["response"]["error"] == {"code": "rate_limit_exceeded", "message": "slow down"}


def test_an_empty_assistant_message_is_left_out() -> None:
    conversation = decode_request(
        {
            "input": [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": [{"type": "output_text", "text": ""}]},
                {"role": "user", "content": "b"},
            ]
        }
    )
    assert conversation.messages == [Message("user", [Text("a"), Text("b")])]


# --- the other direction: a model served over the Responses API ------------------------


def test_conversation_encoded_as_items() -> None:
    conversation = decode_request(CODEX_LIKE)
    body = encode_responses_request(conversation, "gpt-codex", stream=True)
    assert body["store"] is False and body["stream"] is True
    assert body["instructions"] == "You are a coding agent.\n\nBe brief."
    kinds = [item.get("type", item.get("role")) for item in body["input"]]
    assert kinds == [
        "user",
        "function_call",
        "function_call",
        "function_call_output",
        "function_call_output",
        "assistant",
        "user",
    ]
    assert body["input"][1] == {
        "type": "function_call",
        "call_id": "c1",
        "name": "shell",
        "arguments": '{"cmd":"ls"}',
    }
    assert body["input"][4]["output"] == "/w"
    assert body["input"][-1]["content"][1] == {
        "type": "input_image",
        "image_url": "data:image/png;base64,AAAA",
        "detail": "auto",
    }
    assert body["tools"] == [
        {"type": "function", "name": "shell", "parameters": {"type": "object"}, "strict": False}
    ]
    assert body["tool_choice"] == {"type": "function", "name": "shell"}
    assert body["max_output_tokens"] == 256


def test_a_failed_tool_result_says_so() -> None:
    conversation = decode_request({"input": "go"})
    conversation.messages.append(
        Message("user", [ToolResult("c9", [Text("no such file")], is_error=True)])
    )
    body = encode_responses_request(conversation, "m", stream=False)
    assert body["input"][-1] == {
        "type": "function_call_output",
        "call_id": "c9",
        "output": "Error: no such file",
    }
    assert "stream" not in body


def test_response_object_decoded() -> None:
    raw = encode_response(
        answer("tool_use", [Text("Checking."), ToolCall("call_1", "shell", '{"a":1}')]),
        "rq",
        {},
    )
    decoded = decode_response(raw)
    assert decoded.content == [Text("Checking."), ToolCall("call_1", "shell", '{"a":1}')]
    assert decoded.stop_reason == "tool_use"
    assert decoded.usage == Usage(10, 5, 2, 0)  # cache writes are not billed separately
    assert decoded.raw == raw and decoded.raw_protocol == "openai_responses"
    cut = decode_response(encode_response(answer("max_tokens", [Text("a b")]), "rq", {}))
    assert cut.stop_reason == "max_tokens"


def test_a_refusal_is_kept_apart_from_the_text_both_ways() -> None:
    """Chat's `message.refusal` and a Responses `refusal` part both decode to a refusal
    text, which a Responses client gets as a `refusal` part, an OpenAI chat client as
    `message.refusal`, and an Anthropic client as text with its refusal stop."""
    chat = openai_decode_response(
        orjson.dumps(
            {
                "id": "c",
                "model": "m",
                "choices": [
                    {
                        "message": {"role": "assistant", "content": None, "refusal": "No."},
                        "finish_reason": "stop",
                    }
                ],
            }
        )
    )
    assert chat.content == [Text("No.", refusal=True)]
    assert chat.stop_reason == "content_filter"
    whole = json.loads(encode_response(chat, "rq", {}))
    [item] = whole["output"]
    assert item["content"] == [{"type": "refusal", "refusal": "No."}]
    # Read back from a model served over the Responses API.
    decoded = decode_response(orjson.dumps(whole))
    assert decoded.content == [Text("No.", refusal=True)]
    assert decoded.stop_reason == "content_filter"
    decoded.raw = None
    assert json.loads(encode_response(decoded, "rq", {}))["output"] == whole["output"]
    # Anthropic: text, with its refusal stop; OpenAI's chat: `refusal`, and `stop`.
    message = json.loads(anthropic_encode_response(decoded, "rq"))
    assert message["content"] == [{"type": "text", "text": "No."}]
    assert message["stop_reason"] == "refusal"
    [choice] = json.loads(openai_encode_response(decoded))["choices"]
    assert choice["message"]["content"] is None and choice["message"]["refusal"] == "No."
    assert choice["finish_reason"] == "stop"


@pytest.mark.parametrize(
    "raw",
    [b"{}", b"not json", b'{"output": {}}', b'{"status": "failed", "output": []}'],
)
def test_malformed_response_objects(raw: bytes) -> None:
    with pytest.raises(MalformedResponse):
        decode_response(raw)


ROUND_TRIP: list[StreamEvent] = [
    MessageStart("up", "model-x"),
    TextDelta("Let me "),
    TextDelta("look."),
    ToolCallStart(0, "call_a", "shell", valid_json=False),
    ToolCallDelta(0, '{"cmd":'),
    ToolCallDelta(0, '"ls"}'),
    UsageUpdate(Usage(12, 7, 3, 0)),
    Finish("tool_use"),
]


def test_stream_round_trip() -> None:
    """What the encoder sends a client, the decoder reads back as the same events."""
    encoder = StreamEncoder("rq", {})
    raw = b"".join(encoder.encode(event) for event in ROUND_TRIP)
    decoder = StreamDecoder()
    events: list[StreamEvent] = []
    for sse in SSEDecoder().feed(raw):
        events.extend(decoder.decode(sse))
    assert decoder.finished and decoder.saw_finish_reason
    assert events[0] == MessageStart("resp_rq", "model-x")
    assert events[1:] == ROUND_TRIP[1:]
    assert decoder.invalid_events == 0


def test_stream_errors_and_items_without_deltas() -> None:
    decoder = StreamDecoder()
    done = {
        "type": "response.output_item.done",
        "output_index": 0,
        "item": message_item("m", "whole text", "completed"),
    }
    assert decoder.decode(sse_of(done)) == [MessageStart("", ""), TextDelta("whole text")]
    assert decoder.decode(SSEEvent("x", b"{not json")) == []
    assert decoder.invalid_events == 1
    failed = {"type": "response.failed", "response": {"error": {"message": "boom"}}}
    with pytest.raises(StreamErrorEvent) as caught:
        decoder.decode(sse_of(failed))
    assert caught.value.error == {"message": "boom"}
    nested = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}
    with pytest.raises(StreamErrorEvent) as caught:
        StreamDecoder().decode(sse_of(nested))
    assert caught.value.error == nested["error"]
    assert not decoder.finished and decoder.finish() == [Finish("end_turn")]


def sse_of(payload: dict[str, Any]) -> SSEEvent:
    return SSEEvent(payload["type"], json.dumps(payload).encode())
