"""The Responses stream encoder sends one output item at a time, as OpenAI does: an
item's `added`, its deltas and its `done` events before the next item's `added`,
whatever order the vendor's events came in; and the whole-answer path lists the same
items in the same order."""

from __future__ import annotations

import json
from typing import Any

import pytest

from switchpoint.chat.content import Block, Text, Thinking, ToolCall
from switchpoint.chat.response import ChatResponse
from switchpoint.chat.stream import (
    Finish,
    MessageStart,
    RefusalDelta,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
    UsageUpdate,
    answer_events,
)
from switchpoint.chat.usage import Usage
from switchpoint.protocols.openai_responses.response import decode_usage, encode_response
from switchpoint.protocols.openai_responses.stream import StreamEncoder
from switchpoint.transport.sse import SSEDecoder


def decode(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(e.data) for e in SSEDecoder().feed(raw)]


def encode_each(stream: list[StreamEvent]) -> list[list[dict[str, Any]]]:
    """The events sent in answer to each internal event, to see when each went out."""
    encoder = StreamEncoder("rq", {})
    return [decode(encoder.encode(event)) for event in stream]


def encode_all(stream: list[StreamEvent]) -> list[dict[str, Any]]:
    out = [e for batch in encode_each(stream) for e in batch]
    check_lifecycle(out)
    return out


def check_lifecycle(out: list[dict[str, Any]]) -> None:
    """What OpenAI's API does and strict clients expect: sequence numbers 0, 1, 2...;
    output indexes 0, 1, 2... in order; nothing about an item outside its added/done;
    no item added while another is open; each item's deltas add up to its done
    content; the terminal response lists exactly the items done, in order."""
    assert [e["sequence_number"] for e in out] == list(range(len(out)))
    current: int | None = None
    done: list[dict[str, Any]] = []
    streamed: dict[int, str] = {}
    for event in out:
        kind = event["type"]
        if kind == "response.output_item.added":
            assert current is None, f"item {event['output_index']} added while {current} open"
            assert event["output_index"] == len(done)
            current = event["output_index"]
            streamed[current] = ""
        elif kind == "response.output_item.done":
            assert event["output_index"] == current
            done.append(event["item"])
            current = None
        elif "output_index" in event:
            assert event["output_index"] == current, f"{kind} outside its item"
            if kind.endswith(".delta"):
                streamed[current] += event["delta"]
    assert current is None, "an item was left open"
    for index, item in enumerate(done):
        whole = item["arguments"] if item["type"] == "function_call" else item_text(item)
        assert streamed[index] == whole
    assert out[-1]["response"]["output"] == done


def item_text(item: dict[str, Any]) -> str:
    """A message's text: its `output_text` parts', or its refusal's."""
    return "".join(part.get("text", part.get("refusal", "")) for part in item["content"])


def summary(out: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(id, type, content) of each item done."""
    items = [e["item"] for e in out if e["type"] == "response.output_item.done"]
    return [
        (i["id"], i["type"], i["arguments"] if i["type"] == "function_call" else item_text(i))
        for i in items
    ]


def kinds(batch: list[dict[str, Any]]) -> list[str]:
    return [e["type"].removeprefix("response.") for e in batch]


def test_sequential_calls_each_close_before_the_next_opens() -> None:
    """Anthropic and Gemini: one call after another, arguments a JSON object. Each item
    is closed as the next begins, and every call streams live."""
    stream: list[StreamEvent] = [
        MessageStart("up", "m"),
        TextDelta("Checking."),
        ToolCallStart(0, "toolu_A", "get_weather"),
        ToolCallDelta(0, '{"city":'),
        ToolCallDelta(0, ' "Paris"}'),
        ToolCallStart(1, "toolu_B", "get_time"),
        ToolCallDelta(1, '{"city": "Paris"}'),
        Finish("tool_use"),
    ]
    batches = encode_each(stream)
    check_lifecycle([e for batch in batches for e in batch])
    assert kinds(batches[2]) == [
        "output_text.done",
        "content_part.done",
        "output_item.done",
        "output_item.added",
    ]
    assert kinds(batches[3]) == ["function_call_arguments.delta"], "the first call is live"
    assert kinds(batches[5]) == [
        "function_call_arguments.done",
        "output_item.done",
        "output_item.added",
    ]
    assert kinds(batches[6]) == ["function_call_arguments.delta"], "the second call is live"
    assert summary([e for batch in batches for e in batch]) == [
        ("msg_rq_0", "message", "Checking."),
        ("fc_rq_1", "function_call", '{"city": "Paris"}'),
        ("fc_rq_2", "function_call", '{"city": "Paris"}'),
    ]


def test_interleaved_calls_are_held_back_and_sent_whole() -> None:
    """OpenAI's chat stream: parallel calls by index, their deltas interleaved, and no
    promise that the arguments are JSON. The first call streams; the second, which
    could still change, is sent whole when the answer ends."""
    stream: list[StreamEvent] = [
        MessageStart("up", "m"),
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
    assert kinds(batches[2]) == [] and kinds(batches[4]) == [], "the second call waits"
    assert kinds(batches[3]) == ["function_call_arguments.delta"]
    out = [e for batch in batches for e in batch]
    check_lifecycle(out)
    assert summary(out) == [
        ("fc_rq_0", "function_call", '{"a":1}'),
        ("fc_rq_1", "function_call", '{"b":2}'),
    ]
    assert [i["call_id"] for i in out[-1]["response"]["output"]] == ["call_A", "call_B"]
    assert out[-1]["type"] == "response.completed"


def test_a_call_that_could_still_change_is_not_closed_early() -> None:
    """Its JSON looks complete, but a vendor that promises no JSON may still add to it
    (OpenAI models sometimes write two objects into one call)."""
    out = encode_all(
        [
            MessageStart("up", "m"),
            ToolCallStart(0, "call_A", "one", valid_json=False),
            ToolCallDelta(0, '{"a":1}'),
            ToolCallStart(1, "call_B", "two", valid_json=False),
            ToolCallDelta(0, '{"a":2}'),
            ToolCallDelta(1, "{}"),
            Finish("tool_use"),
        ]
    )
    assert summary(out) == [
        ("fc_rq_0", "function_call", '{"a":1}{"a":2}'),
        ("fc_rq_1", "function_call", "{}"),
    ]


def test_a_late_delta_for_a_closed_call_sends_nothing() -> None:
    """A complete JSON object from a vendor that promises one is closed when the next
    item begins; only whitespace could follow it, and nothing is sent for it."""
    batches = encode_each(
        [
            MessageStart("up", "m"),
            ToolCallStart(0, "toolu_A", "one"),
            ToolCallDelta(0, "{}"),
            ToolCallStart(1, "toolu_B", "two"),
            ToolCallDelta(0, " "),
            Finish("tool_use"),
        ]
    )
    assert batches[4] == []
    check_lifecycle([e for batch in batches for e in batch])


def test_text_behind_an_open_call_waits_its_turn() -> None:
    out = encode_all(
        [
            MessageStart("up", "m"),
            TextDelta("before "),
            ThinkingDelta("hmm"),
            TextDelta("calling"),
            ToolCallStart(0, "call_A", "one", valid_json=False),
            ToolCallDelta(0, '{"a":'),
            TextDelta("after"),
            TextDelta(" it"),
            ToolCallDelta(0, "1}"),
            ToolCallStart(1, "call_B", "two", valid_json=False),
            ToolCallDelta(1, "{}"),
            Finish("tool_use"),
        ]
    )
    assert summary(out) == [
        ("msg_rq_0", "message", "before calling"),
        ("fc_rq_1", "function_call", '{"a":1}'),
        ("msg_rq_2", "message", "after it"),
        ("fc_rq_3", "function_call", "{}"),
    ]


def test_only_the_last_held_back_item_is_incomplete_when_cut() -> None:
    out = encode_all(
        [
            MessageStart("up", "m"),
            ToolCallStart(0, "a", "one", valid_json=False),
            ToolCallStart(1, "b", "two", valid_json=False),
            ToolCallDelta(1, '{"b"'),
            ToolCallDelta(0, "{}"),
            Finish("max_tokens"),
        ]
    )
    assert out[-1]["type"] == "response.incomplete"
    statuses = [i["status"] for i in out[-1]["response"]["output"]]
    assert statuses == ["completed", "incomplete"]


def test_failure_lists_only_the_items_announced() -> None:
    encoder = StreamEncoder("rq", {})
    raw = b"".join(
        encoder.encode(event)
        for event in [
            MessageStart("up", "m"),
            ToolCallStart(0, "a", "one", valid_json=False),
            ToolCallDelta(0, '{"a"'),
            ToolCallStart(1, "b", "two", valid_json=False),
        ]
    )
    raw += encoder.encode_error({"error": {"message": "cut"}})
    out = decode(raw)
    assert [e["sequence_number"] for e in out] == list(range(len(out)))
    assert [e["type"] for e in out][-2:] == ["error", "response.failed"]
    [item] = out[-1]["response"]["output"]
    assert item["call_id"] == "a" and item["status"] == "incomplete"


ANSWERS: list[list[Block]] = [
    [Text("Checking."), ToolCall("a", "one", '{"x":1}'), ToolCall("b", "two", "{}")],
    [ToolCall("a", "one", "{}"), Text("then"), Thinking("hmm"), Text(" more")],
    [Text("x"), Thinking("hmm"), Text("y"), ToolCall("", "one", "")],
    [Text(""), ToolCall("a", "one", "{}"), Text("")],
    [Text("I can't.", refusal=True)],
    [Text("a"), Text("no", refusal=True), Text(" way", refusal=True), Text("b")],
    [ToolCall("a", "one", ""), Text("no", refusal=True), ToolCall("b", "two", "{}")],
]


@pytest.mark.parametrize("content", ANSWERS)
@pytest.mark.parametrize("stop", ["tool_use", "max_tokens"])
def test_whole_answer_lists_the_items_the_stream_sends(content: list[Block], stop: Any) -> None:
    answer = ChatResponse("up", "m", content, stop, Usage(3, 4))
    streamed = encode_all(answer_events(answer))[-1]["response"]
    whole = json.loads(encode_response(answer, "rq", {}))
    assert whole["output"] == streamed["output"]
    assert whole["status"] == streamed["status"]


def test_a_refusal_is_a_message_of_its_own_with_a_refusal_part() -> None:
    """OpenAI's shape: `response.refusal.delta`s then `.done`, in a message whose part
    is a `refusal`; text before or after it is a message of its own."""
    stream: list[StreamEvent] = [
        MessageStart("up", "m"),
        TextDelta("a"),
        RefusalDelta("I can"),
        RefusalDelta("'t."),
        TextDelta("b"),
        Finish("content_filter"),
    ]
    batches = encode_each(stream)
    out = [e for batch in batches for e in batch]
    check_lifecycle(out)
    assert kinds(batches[2]) == [
        "output_text.done",
        "content_part.done",
        "output_item.done",
        "output_item.added",
        "content_part.added",
        "refusal.delta",
    ]
    assert kinds(batches[3]) == ["refusal.delta"]
    assert kinds(batches[4])[:3] == ["refusal.done", "content_part.done", "output_item.done"]
    refusal = [e for e in out if e.get("output_index") == 1 and "item_id" in e]
    assert {e["content_index"] for e in refusal} == {0}
    assert [e["part"] for e in refusal if "part" in e] == [
        {"type": "refusal", "refusal": ""},
        {"type": "refusal", "refusal": "I can't."},
    ]
    assert [e["refusal"] for e in out if e["type"] == "response.refusal.done"] == ["I can't."]
    assert summary(out) == [
        ("msg_rq_0", "message", "a"),
        ("msg_rq_1", "message", "I can't."),
        ("msg_rq_2", "message", "b"),
    ]


def test_a_refusal_behind_an_open_call_waits_its_turn() -> None:
    out = encode_all(
        [
            MessageStart("up", "m"),
            ToolCallStart(0, "a", "one", valid_json=False),
            ToolCallDelta(0, '{"x"'),
            RefusalDelta("no"),
            ToolCallDelta(0, ": 1}"),
            Finish("content_filter"),
        ]
    )
    [message] = [e["item"] for e in out if e["type"] == "response.output_item.done"][1:]
    assert message["content"] == [{"type": "refusal", "refusal": "no"}]
    assert [e["delta"] for e in out if e["type"] == "response.refusal.delta"] == ["no"]


def test_reasoning_tokens_are_reported_and_read_back() -> None:
    usage = Usage(10, 9, reasoning_tokens=4)
    whole = json.loads(
        encode_response(ChatResponse("up", "m", [Text("x")], "end_turn", usage), "rq", {})
    )
    assert whole["usage"]["output_tokens_details"] == {"reasoning_tokens": 4}
    streamed = encode_all([MessageStart("up", "m"), UsageUpdate(usage), Finish("end_turn")])
    assert streamed[-1]["response"]["usage"]["output_tokens_details"] == {"reasoning_tokens": 4}
    decoded = decode_usage(whole["usage"])
    assert decoded is not None and decoded.reasoning_tokens == 4
    # A bad figure for the part is dropped; the billed counts stand.
    bad = {**whole["usage"], "output_tokens_details": {"reasoning_tokens": "many"}}
    assert decode_usage(bad) == Usage(10, 9)
