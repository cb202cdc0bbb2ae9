"""An Anthropic Messages client served by an OpenAI chat model whose parallel tool calls'
argument fragments arrive interleaved (OpenAI's chunk format names each fragment's call
by `index`), or split by a text chunk. Anthropic's stream has every delta of a block
between its `content_block_start` and `content_block_stop`, one block at a time, in
index order; the SDK's accumulator and agents such as Claude Code take a tool call as
finished at its `content_block_stop` and run it. So checked here: the wire keeps that
order, the SDK's block at `content_block_stop` holds the call's whole input, and the
final message lists the same blocks."""

from __future__ import annotations

import json
from typing import Any

from anthropic.types import ToolParam

from tests.e2e.conftest import CLIENT_KEY, HTTP, Stack
from tests.e2e.test_responses_item_order import CALLS, CITY, openai_stream
from tests.fakes import RawResponse
from tests.fakes.raw_streams import openai_chunk, sse_body
from tests.unit.test_anthropic_stream_order import blocks_of

TOOLS: list[ToolParam] = [
    {
        "name": name,
        "description": "d",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    for _, name in CALLS
]
QUESTION: list[Any] = [{"role": "user", "content": "Weather and time in Paris?"}]


def text_between_fragments() -> RawResponse:
    """One call whose fragments are split by a text chunk (an OpenAI-compatible server's
    stray "\\n")."""
    start = {
        "index": 0,
        "id": CALLS[0][0],
        "type": "function",
        "function": {"name": CALLS[0][1], "arguments": '{"city": '},
    }
    chunks = [
        openai_chunk({"role": "assistant", "content": None, "tool_calls": [start]}),
        openai_chunk({"content": "\n"}),
        openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris é😀"}'}}]}),
        openai_chunk({}, finish="tool_calls"),
    ]
    return RawResponse(
        status=200,
        body=sse_body(chunks) + b"data: [DONE]\n\n",
        content_type="text/event-stream",
    )


def stream_through_sdk(stack: Stack) -> tuple[list[dict[str, Any]], list[Any]]:
    """The tool calls' inputs as the SDK's blocks stood at their `content_block_stop`,
    and the final message's content."""
    finished: list[dict[str, Any]] = []
    with stack.anthropic().messages.stream(
        model="oa", max_tokens=100, tools=TOOLS, messages=QUESTION
    ) as stream:
        finished.extend(
            dict(event.content_block.input)
            for event in stream
            if event.type == "content_block_stop" and event.content_block.type == "tool_use"
        )
        message = stream.get_final_message()
    return finished, list(message.content)


def test_the_wire_keeps_every_delta_inside_its_block(stack: Stack) -> None:
    stack.openai_fake.enqueue(openai_stream())
    response = HTTP.post(
        f"{stack.base_url}/v1/messages",
        headers={"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"},
        json={
            "model": "oa",
            "max_tokens": 100,
            "stream": True,
            "tools": TOOLS,
            "messages": QUESTION,
        },
        timeout=30,
    )
    assert response.status_code == 200
    events = [
        json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")
    ]
    blocks = blocks_of(events)  # checks Anthropic's order on the way
    assert [kind for kind, _ in blocks] == ["text"] + [f"tool_use {name}" for _, name in CALLS]
    assert [json.loads(arguments) for _, arguments in blocks[1:]] == [CITY, CITY]
    starts = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert [b["id"] for b in starts[1:]] == [call for call, _ in CALLS]


def test_each_call_is_whole_at_its_content_block_stop(stack: Stack) -> None:
    """Where streaming clients (Claude Code among them) take a tool call as complete and
    run it; the final message agrees."""
    stack.openai_fake.enqueue(openai_stream())
    finished, content = stream_through_sdk(stack)
    assert finished == [CITY, CITY]
    assert [b.type for b in content] == ["text", "tool_use", "tool_use"]
    assert [b.input for b in content if b.type == "tool_use"] == [CITY, CITY]
    assert [b.name for b in content if b.type == "tool_use"] == [name for _, name in CALLS]


def test_text_between_a_calls_fragments_follows_the_call(stack: Stack) -> None:
    """The call's input is not cut at the text: the text waits for the call to finish,
    then comes as a block of its own."""
    stack.openai_fake.enqueue(text_between_fragments())
    finished, content = stream_through_sdk(stack)
    assert finished == [CITY]
    assert [b.type for b in content] == ["tool_use", "text"]
    assert content[0].input == CITY
    assert content[1].text == "\n"
