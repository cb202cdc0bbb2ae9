"""The Anthropic stream encoder keeps Anthropic's block order whatever order a vendor's
events came in: every delta of a block between its `content_block_start` and
`content_block_stop`, one block at a time, in index order. OpenAI's chat format lets
parallel calls' argument fragments interleave, and text come between a call's
fragments; Anthropic's clients take a tool call as finished at its stop. So a call whose
arguments are not yet a whole JSON object stays open, and what comes meanwhile waits for
it, in arrival order (found by a wire-format probe)."""

from __future__ import annotations

import json
from typing import Any

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
from switchpoint.protocols.anthropic.stream import StreamEncoder
from switchpoint.transport.sse import SSEDecoder


def encode_each(stream: list[StreamEvent]) -> list[list[dict[str, Any]]]:
    """The events sent in answer to each internal event, to see when each went out."""
    encoder = StreamEncoder(fallback_id="msg_x")
    return [
        [json.loads(e.data) for e in SSEDecoder().feed(encoder.encode(event))] for event in stream
    ]


def blocks_of(out: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Checks Anthropic's order (blocks 0, 1, 2... one at a time, each delta inside its
    block) and returns each block as (type and name, content)."""
    current: int | None = None
    blocks: list[tuple[str, str]] = []
    for event in out:
        kind = event["type"]
        if kind == "content_block_start":
            assert current is None, f"block {event['index']} started while {current} is open"
            assert event["index"] == len(blocks)
            current = event["index"]
            block = event["content_block"]
            blocks.append((f"{block['type']} {block.get('name', '')}".strip(), ""))
        elif kind == "content_block_delta":
            assert event["index"] == current, f"delta outside its block: {event}"
            delta = event["delta"]
            text = delta.get("text") or delta.get("partial_json") or delta.get("thinking") or ""
            blocks[-1] = (blocks[-1][0], blocks[-1][1] + text)
        elif kind == "content_block_stop":
            assert event["index"] == current
            current = None
    assert current is None, "a block was left open"
    assert out[-1]["type"] == "message_stop"
    return blocks


def encode_all(stream: list[StreamEvent]) -> list[tuple[str, str]]:
    return blocks_of([e for batch in encode_each(stream) for e in batch])


def kinds(batch: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in batch]


def test_interleaved_calls_each_come_whole_in_their_own_block() -> None:
    stream: list[StreamEvent] = [
        MessageStart("up", "m"),
        TextDelta("Checking."),
        ToolCallStart(0, "call_A", "one", valid_json=False),
        ToolCallStart(1, "call_B", "two", valid_json=False),
        ToolCallDelta(0, '{"a":'),
        ToolCallDelta(1, '{"b":'),
        ToolCallDelta(0, "1}"),
        ToolCallDelta(1, "2}"),
        UsageUpdate(Usage(5, 7)),
        Finish("tool_use"),
    ]
    batches = encode_each(stream)
    assert batches[3] == [] and batches[5] == [], "the second call waits for the first"
    # The first call is closed as soon as its arguments are whole; the second follows.
    assert kinds(batches[6]) == [
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
    ]
    assert blocks_of([e for batch in batches for e in batch]) == [
        ("text", "Checking."),
        ("tool_use one", '{"a":1}'),
        ("tool_use two", '{"b":2}'),
    ]


def test_text_between_a_calls_fragments_waits_for_the_call() -> None:
    assert encode_all(
        [
            MessageStart("up", "m"),
            ToolCallStart(0, "call_A", "one", valid_json=False),
            ToolCallDelta(0, '{"city": '),
            TextDelta("\n"),
            ToolCallDelta(0, '"Paris"}'),
            Finish("tool_use"),
        ]
    ) == [("tool_use one", '{"city":"Paris"}'), ("text", "\n")]


def test_what_waits_keeps_its_order_and_may_wait_again() -> None:
    """A held call sent in its turn may itself be unfinished: what came after it waits
    for it in turn."""
    assert encode_all(
        [
            MessageStart("up", "m"),
            TextDelta("before"),
            ToolCallStart(0, "call_A", "one", valid_json=False),
            ToolCallDelta(0, '{"a":'),
            TextDelta("after A"),
            ToolCallStart(1, "call_B", "two", valid_json=False),
            ToolCallDelta(1, '{"b":'),
            TextDelta(" more"),
            ThinkingDelta("hmm"),
            ToolCallDelta(0, "1}"),
            ToolCallDelta(1, "2}"),
            TextDelta("end"),
            Finish("tool_use"),
        ]
    ) == [
        ("text", "before"),
        ("tool_use one", '{"a":1}'),
        ("text", "after A"),
        ("tool_use two", '{"b":2}'),
        ("text", " moreend"),
    ]


def test_the_end_of_the_answer_sends_everything_held_in_order() -> None:
    """Cut by the output limit: an unfinished call's input is `{}`, as for a whole
    answer, and every call that waited behind it still gets its block."""
    assert encode_all(
        [
            MessageStart("up", "m"),
            ToolCallStart(0, "a", "one", valid_json=False),
            ToolCallStart(1, "b", "two", valid_json=False),
            ToolCallDelta(1, '{"b":2}'),
            ToolCallDelta(0, '{"a"'),
            TextDelta("x"),
            ToolCallStart(2, "c", "three", valid_json=False),
            ToolCallDelta(2, '{"c":'),
            Finish("max_tokens"),
        ]
    ) == [
        ("tool_use one", ""),
        ("tool_use two", '{"b":2}'),
        ("text", "x"),
        ("tool_use three", ""),
    ]


def test_a_late_fragment_of_a_closed_call_sends_nothing() -> None:
    batches = encode_each(
        [
            MessageStart("up", "m"),
            ToolCallStart(0, "a", "one", valid_json=False),
            ToolCallDelta(0, "{}"),
            ToolCallStart(1, "b", "two", valid_json=False),
            ToolCallDelta(0, " "),
            ToolCallDelta(1, "{}"),
            TextDelta("x"),
            ToolCallDelta(1, " "),
            Finish("tool_use"),
        ]
    )
    assert batches[4] == [] and batches[7] == []
    # An empty input needs no delta: the block started with `input: {}`.
    assert blocks_of([e for batch in batches for e in batch]) == [
        ("tool_use one", ""),
        ("tool_use two", ""),
        ("text", "x"),
    ]


def test_calls_in_order_close_as_the_next_content_comes() -> None:
    """The common case is as before: a call whose arguments are whole is closed by the
    next block, and a vendor's JSON (Anthropic's, Gemini's) streams live."""
    batches = encode_each(
        [
            MessageStart("up", "m"),
            ToolCallStart(0, "a", "one", valid_json=False),
            ToolCallDelta(0, '{"a":1}'),
            TextDelta("x"),
            ToolCallStart(1, "toolu_b", "two"),
            ToolCallDelta(1, '{"b":'),
            ToolCallDelta(1, "2}"),
            Finish("tool_use"),
        ]
    )
    assert kinds(batches[3]) == [
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
    ]
    assert kinds(batches[5]) == ["content_block_delta"], "live"
    assert blocks_of([e for batch in batches for e in batch]) == [
        ("tool_use one", '{"a":1}'),
        ("text", "x"),
        ("tool_use two", '{"b":2}'),
    ]
