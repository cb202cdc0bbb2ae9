"""A whole answer turned into the events a stream of it would have carried."""

from __future__ import annotations

from switchpoint.chat.content import Text, Thinking, ToolCall
from switchpoint.chat.response import ChatResponse
from switchpoint.chat.stream import (
    Finish,
    MessageStart,
    RefusalDelta,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
    UsageUpdate,
    answer_events,
)
from switchpoint.chat.usage import Usage


def test_every_block_becomes_its_events_in_order_and_the_stream_finishes() -> None:
    usage = Usage(input_tokens=12, output_tokens=30)
    answer = ChatResponse(
        id="msg-1",
        model="m",
        content=[
            Thinking("considering", signature="sig"),
            Text("Let me look."),
            Text(""),
            ToolCall(id="call-a", name="read", arguments='{"path": "a"}'),
            ToolCall(id="call-b", name="list", arguments=""),
        ],
        stop_reason="tool_use",
        usage=usage,
        extra={"stop_sequence": "END"},
    )
    assert answer_events(answer) == [
        MessageStart("msg-1", "m"),
        ThinkingDelta("considering", "sig"),
        TextDelta("Let me look."),
        ToolCallStart(0, "call-a", "read"),
        ToolCallDelta(0, '{"path": "a"}'),
        ToolCallStart(1, "call-b", "list"),
        UsageUpdate(usage),
        Finish("tool_use", "END"),
    ]


def test_an_answer_without_usage_reports_none() -> None:
    answer = ChatResponse(
        id="", model="m", content=[Text("hi")], stop_reason="end_turn", usage=None
    )
    events = answer_events(answer)
    assert not any(type(event) is UsageUpdate for event in events)
    assert events[-1] == Finish("end_turn")


def test_tool_arguments_that_are_not_a_json_object_are_marked_so() -> None:
    answer = ChatResponse(
        id="msg-1",
        model="m",
        content=[ToolCall(id="c", name="f", arguments='{"path": "a'), ToolCall("d", "g", "[1]")],
        stop_reason="tool_use",
        usage=None,
    )
    starts = [e for e in answer_events(answer) if type(e) is ToolCallStart]
    assert [start.valid_json for start in starts] == [False, False]


def test_a_refusal_becomes_refusal_deltas() -> None:
    """As OpenAI streams it (`delta.refusal`): the Responses encoder gives it a part of
    its own, the others what they give a streamed refusal."""
    answer = ChatResponse(
        id="c",
        model="m",
        content=[Text("I can't.", refusal=True)],
        stop_reason="content_filter",
        usage=None,
    )
    assert answer_events(answer)[1:] == [RefusalDelta("I can't."), Finish("content_filter")]
