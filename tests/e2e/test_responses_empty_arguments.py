"""A Responses client served by an OpenAI-compatible chat model that streams a call to a
parameterless tool without any argument text (`"arguments": ""` and no fragment after it,
as several OpenAI-compatible servers do). The Responses API's `function_call.arguments`
is "a JSON string of the arguments": clients (Codex CLI, the Agents SDK) parse it with
a JSON parser, and "" is not JSON. The gateway already turns this case into `{}` for
Anthropic clients."""

from __future__ import annotations

import json

from tests.e2e.conftest import Stack
from tests.fakes import RawResponse
from tests.fakes.raw_streams import openai_chunk, sse_body

TOOLS = [
    {"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {}}}
]


def stream() -> RawResponse:
    call = {
        "index": 0,
        "id": "call_T",
        "type": "function",
        "function": {"name": "get_time", "arguments": ""},
    }
    chunks = [
        openai_chunk({"role": "assistant", "content": None, "tool_calls": [call]}),
        openai_chunk({}, finish="tool_calls"),
    ]
    return RawResponse(
        status=200, body=sse_body(chunks) + b"data: [DONE]\n\n", content_type="text/event-stream"
    )


def test_streamed_call_arguments_are_json(stack: Stack) -> None:
    stack.openai_fake.enqueue(stream())
    with stack.openai().responses.stream(model="oa", input="What time is it?", tools=TOOLS) as s:
        response = s.get_final_response()
    calls = [item for item in response.output if item.type == "function_call"]
    assert len(calls) == 1
    assert json.loads(calls[0].arguments) == {}


def test_anthropic_client_gets_empty_object(stack: Stack) -> None:
    """The same upstream stream, for an Anthropic client: already handled."""
    stack.openai_fake.enqueue(stream())
    tools = [{"name": "get_time", "input_schema": {"type": "object", "properties": {}}}]
    with stack.anthropic().messages.stream(
        model="oa", max_tokens=50, tools=tools, messages=[{"role": "user", "content": "Time?"}]
    ) as s:
        message = s.get_final_message()
    assert [b.input for b in message.content if b.type == "tool_use"] == [{}]


def test_whole_call_arguments_are_json(stack: Stack) -> None:
    body = {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-test",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_T",
                            "type": "function",
                            "function": {"name": "get_time", "arguments": ""},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
    stack.openai_fake.enqueue(
        RawResponse(status=200, body=json.dumps(body).encode(), content_type="application/json")
    )
    response = stack.openai().responses.create(model="oa", input="What time is it?", tools=TOOLS)
    calls = [item for item in response.output if item.type == "function_call"]
    assert json.loads(calls[0].arguments) == {}
