"""Text then two parallel tool calls, from every vendor, to a Responses client through
the official SDK: the stream sends one output item at a time, as OpenAI does (each
closed before the next is added), the SDK's stream helper accepts it, and the whole
answer lists the same items in the same order."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import PROFILES, Stack
from tests.fakes import RawResponse
from tests.fakes.raw_streams import anthropic_message_start, openai_chunk, sse_body

CITY = {"city": "Paris é😀"}
CALLS = [("call_A", "get_weather"), ("call_B", "get_time")]
TOOLS: list[Any] = [
    {
        "type": "function",
        "name": name,
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        "strict": False,
    }
    for _, name in CALLS
]
# Arguments in fragments, as vendors stream them.
FRAGMENTS = ['{"ci', 'ty": "Par', 'is é😀"', "}"]


def stream_answer(body: bytes) -> RawResponse:
    return RawResponse(status=200, body=body, content_type="text/event-stream")


def anthropic_stream() -> RawResponse:
    """One block after another, as Anthropic streams them."""
    events: list[dict[str, Any]] = [
        anthropic_message_start("msg_x"),
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "Checking."},
        },
        {"type": "content_block_stop", "index": 0},
    ]
    for index, (call, name) in enumerate(CALLS, start=1):
        block = {"type": "tool_use", "id": call, "name": name, "input": {}}
        events.append({"type": "content_block_start", "index": index, "content_block": block})
        events += [
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "input_json_delta", "partial_json": fragment},
            }
            for fragment in FRAGMENTS
        ]
        events.append({"type": "content_block_stop", "index": index})
    events += [
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 5},
        },
        {"type": "message_stop"},
    ]
    return stream_answer(sse_body(events, named=True))


def openai_stream() -> RawResponse:
    """Both calls announced first, then their argument fragments interleaved: OpenAI's
    chat format allows it (each delta names its call by index)."""
    chunks = [openai_chunk({"role": "assistant", "content": "Checking."})]
    chunks += [
        openai_chunk(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call,
                        "type": "function",
                        "function": {"name": name, "arguments": ""},
                    }
                ]
            }
        )
        for index, (call, name) in enumerate(CALLS)
    ]
    for fragment in FRAGMENTS:
        chunks += [
            openai_chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
            for index in range(len(CALLS))
        ]
    chunks.append(openai_chunk({}, finish="tool_calls"))
    return stream_answer(sse_body(chunks) + b"data: [DONE]\n\n")


def gemini_answer() -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"text": "Checking."}]
    parts += [{"functionCall": {"name": name, "args": CITY}} for _, name in CALLS]
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 3},
        "modelVersion": "gemini-3-test",
    }


def gemini_stream() -> RawResponse:
    """Whole calls, both in one chunk, as Gemini sends them."""
    return stream_answer(f"data: {json.dumps(gemini_answer())}\r\n\r\n".encode())


STREAMS = {"an": anthropic_stream, "oa": openai_stream, "ge": gemini_stream}


def whole_answer(profile: str) -> RawResponse:
    if profile == "an":
        content: list[dict[str, Any]] = [{"type": "text", "text": "Checking."}]
        content += [
            {"type": "tool_use", "id": call, "name": name, "input": CITY} for call, name in CALLS
        ]
        body: dict[str, Any] = {
            "id": "msg_x",
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "content": content,
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 5},
        }
    elif profile == "oa":
        calls = [
            {
                "id": call,
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(CITY)},
            }
            for call, name in CALLS
        ]
        message = {"role": "assistant", "content": "Checking.", "tool_calls": calls}
        body = {
            "id": "chatcmpl-x",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-test",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
        }
    else:
        body = gemini_answer()
    return RawResponse(status=200, body=json.dumps(body).encode())


def check_one_item_at_a_time(events: list[dict[str, Any]]) -> None:
    """OpenAI's order: every event about an item between its added and done, and no
    item added while another is open; the final output is the items done, in order."""
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    current: int | None = None
    done: list[dict[str, Any]] = []
    for event in events:
        if event["type"] == "response.output_item.added":
            assert current is None, f"{event['output_index']} added while {current} is open"
            assert event["output_index"] == len(done)
            current = event["output_index"]
        elif event["type"] == "response.output_item.done":
            assert event["output_index"] == current
            done.append(event["item"])
            current = None
        elif "output_index" in event:
            assert event["output_index"] == current, f"{event['type']} outside its item"
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["output"] == done


def items_of(output: list[Any]) -> list[tuple[str, ...]]:
    """Each item without its ids, which derive from the request's."""
    out: list[tuple[str, ...]] = []
    for item in output:
        if item.type == "message":
            out.append(("message", item.content[0].text, item.status))
        else:
            out.append((item.type, item.name, json.dumps(json.loads(item.arguments)), item.status))
    return out


EXPECTED = [
    ("message", "Checking.", "completed"),
    *[("function_call", name, json.dumps(CITY), "completed") for _, name in CALLS],
]


@pytest.mark.parametrize("profile", PROFILES)
def test_parallel_calls_stream_one_item_at_a_time(stack: Stack, profile: str) -> None:
    fake = stack.fake(profile)
    fake.enqueue(STREAMS[profile]())
    events = stack.openai().responses.create(
        model=profile, input="weather and time", tools=TOOLS, stream=True
    )
    check_one_item_at_a_time([e.model_dump(mode="json") for e in events])


@pytest.mark.parametrize("profile", PROFILES)
def test_stream_helper_and_whole_answer_agree(stack: Stack, profile: str) -> None:
    fake = stack.fake(profile)
    fake.enqueue(STREAMS[profile]())
    client = stack.openai()
    with client.responses.stream(model=profile, input="weather", tools=TOOLS) as stream:
        added = [e.item.type for e in stream if e.type == "response.output_item.added"]
        streamed = stream.get_final_response()
    assert added == ["message", "function_call", "function_call"]
    assert items_of(streamed.output) == EXPECTED
    fake.enqueue(whole_answer(profile))
    whole = client.responses.create(model=profile, input="weather", tools=TOOLS)
    assert items_of(whole.output) == EXPECTED
    if profile != "ge":  # Gemini gives calls no ids: switchpoint makes them up
        for response in (streamed, whole):
            call_ids = [i.call_id for i in response.output if i.type == "function_call"]
            assert call_ids == [call for call, _ in CALLS]


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_reasoning_tokens_are_reported(stack: Stack, streamed: bool) -> None:
    answer = gemini_answer()
    answer["usageMetadata"]["thoughtsTokenCount"] = 11
    body = json.dumps(answer)
    stack.gemini_fake.enqueue(
        stream_answer(f"data: {body}\r\n\r\n".encode())
        if streamed
        else RawResponse(status=200, body=body.encode())
    )
    client = stack.openai()
    if streamed:
        with client.responses.stream(model="ge", input="weather", tools=TOOLS) as stream:
            response = stream.get_final_response()
    else:
        response = client.responses.create(model="ge", input="weather", tools=TOOLS)
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens == 11
    assert response.usage.output_tokens == 14
