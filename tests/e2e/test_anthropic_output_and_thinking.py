"""An Anthropic client's structured output and thinking, through the official SDK.

Structured output (`output_config.format`) reaches every vendor in its own words; reasoning
that Anthropic did not sign never reaches the client as a thinking block, and an unsigned
block the client replays anyway is not forwarded to Anthropic, which would refuse it.
"""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from tests.e2e.conftest import CLIENT_KEY, HTTP, Stack
from tests.fakes import RawResponse
from tests.fakes.raw_streams import anthropic_message_start, sse_body, sse_response

SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}
QUESTION: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
TOOLS: list[Any] = [
    {
        "name": "get_weather",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]


# --- structured output ------------------------------------------------------------------


def test_structured_output_reaches_openai_as_response_format(stack: Stack) -> None:
    stack.anthropic().messages.create(
        model="oa",
        max_tokens=100,
        messages=QUESTION,
        output_config={"format": {"type": "json_schema", "schema": SCHEMA}},
    )
    sent = stack.openai_fake.last_request.body
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": SCHEMA},
    }


def test_structured_output_reaches_gemini_as_a_json_schema(stack: Stack) -> None:
    stack.anthropic().messages.create(
        model="ge",
        max_tokens=100,
        messages=QUESTION,
        output_config={"format": {"type": "json_schema", "schema": SCHEMA}},
        stream=True,
    ).close()
    config = stack.gemini_fake.last_request.body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == SCHEMA


def test_the_beta_output_format_is_translated_too(stack: Stack) -> None:
    stack.anthropic().messages.create(
        model="oa",
        max_tokens=100,
        messages=QUESTION,
        extra_body={"output_format": {"type": "json_schema", "schema": SCHEMA}},
    )
    sent = stack.openai_fake.last_request.body
    assert sent["response_format"]["json_schema"]["schema"] == SCHEMA


def test_structured_output_reaches_anthropic_as_sent(stack: Stack) -> None:
    output_config = {"format": {"type": "json_schema", "schema": SCHEMA}, "effort": "low"}
    stack.anthropic().messages.create(
        model="an",
        max_tokens=100,
        messages=QUESTION,
        output_config=output_config,  # type: ignore[typeddict-item]
    )
    assert stack.anthropic_fake.last_request.body["output_config"] == output_config


def test_a_malformed_output_format_for_another_vendor_is_a_400(stack: Stack) -> None:
    for output_config, words in (
        ({"format": {"type": "xml", "schema": SCHEMA}}, "'output_config.format.type'"),
        ({"format": {"type": "json_schema"}}, "'output_config.format.schema'"),
        ({"format": "json"}, "'output_config.format'"),
    ):
        response = HTTP.post(
            f"{stack.base_url}/v1/messages",
            json={
                "model": "oa",
                "max_tokens": 10,
                "messages": QUESTION,
                "output_config": output_config,
            },
            headers={"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"},
            timeout=30,
        )
        assert response.status_code == 400, response.text
        assert words in response.json()["error"]["message"]
    assert stack.openai_fake.requests == []


# --- reasoning Anthropic did not sign --------------------------------------------------


def sse(chunks: list[dict[str, Any]], end: bytes = b"") -> RawResponse:
    return RawResponse(status=200, body=sse_body(chunks) + end, content_type="text/event-stream")


def gemini_thinking_then_call() -> RawResponse:
    def chunk(parts: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finish is not None:
            candidate["finishReason"] = finish
        usage = {"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 3}
        return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "gemini-3-test"}

    return sse(
        [
            chunk([{"text": "Let me think", "thought": True}]),
            chunk([{"text": "Checking. "}]),
            chunk([{"text": "more thought", "thought": True}]),
            chunk(
                [
                    {
                        "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                        "thoughtSignature": "c2lnMQ==",
                    }
                ]
            ),
            chunk([{"text": ""}], finish="STOP"),
        ]
    )


def openai_reasoning_then_text() -> RawResponse:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-test",
            "choices": [choice],
        }

    return sse(
        [
            chunk({"role": "assistant", "reasoning_content": "Let me think"}),
            chunk({"reasoning_content": " harder"}),
            chunk({"content": "Sunny."}),
            chunk({}, finish="stop"),
        ],
        end=b"data: [DONE]\n\n",
    )


@pytest.mark.parametrize("profile", ["ge", "oa"])
def test_unsigned_reasoning_is_not_streamed_as_thinking(stack: Stack, profile: str) -> None:
    if profile == "ge":
        stack.gemini_fake.enqueue(gemini_thinking_then_call())
    else:
        stack.openai_fake.enqueue(openai_reasoning_then_text())
    with stack.anthropic().messages.stream(
        model=profile,
        max_tokens=100,
        messages=QUESTION,
        tools=TOOLS,
    ) as stream:
        events = list(stream)
        message = stream.get_final_message()
    kinds = [block.type for block in message.content]
    assert "thinking" not in kinds
    assert kinds == (["text", "tool_use"] if profile == "ge" else ["text"])
    # The blocks are numbered from 0 with no gap for the reasoning left out.
    starts = [e.index for e in events if e.type == "content_block_start"]
    assert starts == list(range(len(kinds)))


def test_the_history_of_a_streamed_gemini_answer_can_go_to_anthropic(stack: Stack) -> None:
    """The client replays the answer it streamed, as agents do; Anthropic takes it."""
    stack.gemini_fake.enqueue(gemini_thinking_then_call())
    client = stack.anthropic()
    with client.messages.stream(
        model="ge",
        max_tokens=100,
        messages=QUESTION,
        tools=TOOLS,
    ) as stream:
        message = stream.get_final_message()
    [call] = [block for block in message.content if block.type == "tool_use"]
    history: list[Any] = [
        *QUESTION,
        {"role": "assistant", "content": [b.to_dict() for b in message.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}],
        },
    ]
    answer = client.messages.create(model="an", max_tokens=100, messages=history, tools=TOOLS)
    assert answer.content[0].type == "text"


def test_unsigned_thinking_replayed_to_anthropic_is_left_out(stack: Stack) -> None:
    """A client that kept another vendor's reasoning as thinking with an empty signature
    (older gateways streamed it so): Anthropic would answer 400; the gateway leaves it out
    and keeps the signed blocks."""
    history: list[Any] = [
        {"role": "user", "content": "first"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "from gemini", "signature": ""},
                {"type": "text", "text": "an answer"},
            ],
        },
        {"role": "user", "content": "second"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "from claude", "signature": "sig-1"},
                {"type": "text", "text": "another"},
            ],
        },
        {"role": "user", "content": "third"},
    ]
    for stream in (False, True):
        if stream:
            with stack.anthropic().messages.stream(
                model="an", max_tokens=100, messages=history
            ) as streamed:
                streamed.get_final_message()
        else:
            stack.anthropic().messages.create(model="an", max_tokens=100, messages=history)
        sent = stack.anthropic_fake.last_request.body["messages"]
        assert sent[1]["content"] == [{"type": "text", "text": "an answer"}]
        assert sent[3] == history[3]
    assert history[1]["content"][0]["signature"] == ""  # the client's copy is untouched


def anthropic_signed_thinking() -> RawResponse:
    start = anthropic_message_start("msg_1")

    def block(index: int, kind: dict[str, Any], *deltas: dict[str, Any]) -> list[Any]:
        return [
            {"type": "content_block_start", "index": index, "content_block": kind},
            *({"type": "content_block_delta", "index": index, "delta": d} for d in deltas),
            {"type": "content_block_stop", "index": index},
        ]

    events = [
        start,
        *block(
            0,
            {"type": "thinking", "thinking": "", "signature": ""},
            {"type": "thinking_delta", "thinking": "Let me "},
            {"type": "thinking_delta", "thinking": "think"},
            {"type": "signature_delta", "signature": "sig-abc"},
        ),
        *block(1, {"type": "text", "text": ""}, {"type": "text_delta", "text": "Sunny."}),
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 5},
        },
        {"type": "message_stop"},
    ]
    return sse_response(events, named=True)


def test_signed_thinking_still_streams_to_anthropic_clients(stack: Stack) -> None:
    stack.anthropic_fake.enqueue(anthropic_signed_thinking())
    with stack.anthropic().messages.stream(
        model="an",
        max_tokens=100,
        messages=QUESTION,
    ) as stream:
        message = stream.get_final_message()
    thinking, text = message.content
    assert isinstance(thinking, anthropic.types.ThinkingBlock)
    assert (thinking.thinking, thinking.signature) == ("Let me think", "sig-abc")
    assert text.type == "text" and text.text == "Sunny."
