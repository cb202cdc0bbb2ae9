"""The compression planner: what is kept, what is summarized, in which chunks."""

from __future__ import annotations

import pytest

from switchpoint.chat.content import Message, Text, ToolCall, ToolResult
from switchpoint.chat.request import Conversation
from switchpoint.context.plan import CompressionPlan, PlanInputs, plan_compression
from switchpoint.context.units import units_of
from tests.context_helpers import WordSizer, assistant, tool_round, user


def agent_conversation(rounds: int = 30) -> Conversation:
    messages: list[Message] = [user(50, keep=True, word="task")]
    for i in range(rounds):
        messages += tool_round(f"c{i}", 300)
        messages.append(assistant(40))
        messages.append(user(20))
    return Conversation(messages=messages, system=[Text("you are an agent")])


def test_units_bind_tool_calls_to_their_results() -> None:
    messages = [user(5), *tool_round("c1", 10), *tool_round("c2", 10), assistant(3)]
    units = units_of(messages, [1] * len(messages))
    assert [(u.start, u.end) for u in units] == [(0, 1), (1, 3), (3, 5), (5, 6)]


def test_keeps_system_recent_and_marked_and_never_splits_tool_pairs() -> None:
    conversation = agent_conversation()
    inputs = PlanInputs(
        budget=4_000, keep_recent_tokens=1_000, chunk_tokens=3_000, summary_tokens=500
    )
    plan = plan_compression(conversation, inputs, WordSizer())
    assert plan.compressible and plan.reason == "ok"
    n = len(conversation.messages)
    # The marked task message survives, and so do the last messages up to ~1,000 tokens.
    assert 0 in plan.kept
    assert plan.kept[-1] == n - 1
    recent = [i for i in plan.kept if i >= plan.recent_start]
    assert recent == list(range(plan.recent_start, n))
    assert sum(plan.sizes[i] for i in recent) <= 1_000
    # Kept and summarized partition the messages.
    assert sorted(plan.kept + plan.summarized) == list(range(n))
    # No tool result is separated from its call.
    for index in plan.summarized + plan.kept:
        message = conversation.messages[index]
        if any(isinstance(b, ToolResult) for b in message.content):
            same_side = plan.summarized if index in plan.summarized else plan.kept
            assert index - 1 in same_side
    # Everything after compression fits: fixed + kept + summary room <= budget.
    assert plan.tokens_after_max <= inputs.budget
    # Chunks cover exactly the summarized messages, in order, each within chunk_tokens.
    covered = [i for c in plan.chunks for u in c.units for i in u.messages]
    assert covered == list(plan.summarized)
    assert all(c.tokens <= inputs.chunk_tokens for c in plan.chunks)


def test_keep_recent_share_of_the_budget() -> None:
    conversation = agent_conversation()
    inputs = PlanInputs(
        budget=8_000, keep_recent_share=0.25, chunk_tokens=3_000, summary_tokens=500
    )
    plan = plan_compression(conversation, inputs, WordSizer())
    recent_tokens = sum(plan.sizes[i] for i in plan.kept if i >= plan.recent_start)
    assert 1_000 < recent_tokens <= 2_000


def test_a_single_huge_message_is_not_compressible() -> None:
    conversation = Conversation(messages=[user(50_000)])
    plan = plan_compression(conversation, PlanInputs(budget=10_000), WordSizer())
    assert not plan.compressible and plan.reason == "nothing_older"
    assert plan.chunks == ()


def test_only_kept_and_recent_is_not_compressible() -> None:
    conversation = Conversation(
        messages=[
            user(9_000, keep=True),
            Message("assistant", [Text("ok")], keep=True),
            user(8_000),
        ]
    )
    plan = plan_compression(conversation, PlanInputs(budget=10_000), WordSizer())
    assert not plan.compressible and plan.reason == "nothing_older"


def test_what_must_be_kept_can_leave_no_room() -> None:
    conversation = Conversation(
        messages=[user(9_000, keep=True), assistant(5_000), user(200), assistant(10), user(900)]
    )
    plan = plan_compression(
        conversation, PlanInputs(budget=9_500, keep_recent_tokens=100), WordSizer()
    )
    assert not plan.compressible and plan.reason == "kept_exceeds_budget"


def test_a_conversation_that_fits_needs_nothing() -> None:
    plan = plan_compression(agent_conversation(2), PlanInputs(budget=100_000), WordSizer())
    assert not plan.compressible and plan.reason == "fits"


def test_recent_window_shrinks_to_leave_room_for_a_summary() -> None:
    conversation = agent_conversation()
    inputs = PlanInputs(
        budget=3_000, keep_recent_tokens=2_900, chunk_tokens=3_000, summary_tokens=500
    )
    plan = plan_compression(conversation, inputs, WordSizer())
    assert plan.compressible and plan.summary_budget >= inputs.min_summary_tokens


def test_a_unit_larger_than_a_chunk_is_split_into_parts() -> None:
    conversation = Conversation(
        messages=[user(10), *tool_round("big", 10_000), assistant(5), user(5)]
    )
    inputs = PlanInputs(budget=2_000, keep_recent_tokens=50, chunk_tokens=3_000, summary_tokens=500)
    plan = plan_compression(conversation, inputs, WordSizer())
    parts = [c for c in plan.chunks if c.parts > 1]
    assert [c.part for c in parts] == [1, 2, 3, 4]
    assert all(c.units == parts[0].units for c in parts)


def test_chunks_are_stable_as_the_conversation_grows() -> None:
    """An agent loop appends turns: earlier chunks stay identical (summary-cache hits)."""
    inputs = PlanInputs(
        budget=4_000, keep_recent_tokens=800, chunk_tokens=3_000, summary_tokens=500
    )
    small = plan_compression(agent_conversation(30), inputs, WordSizer())
    large = plan_compression(agent_conversation(40), inputs, WordSizer())
    assert len(large.chunks) > len(small.chunks)

    def bounds(plan: CompressionPlan) -> list[tuple[int, int]]:
        return [(c.first_message, c.end_message) for c in plan.chunks]

    assert bounds(large)[: len(small.chunks) - 1] == bounds(small)[:-1]


def test_worst_case_levels_are_predicted() -> None:
    conversation = agent_conversation(60)
    tight = PlanInputs(budget=3_000, keep_recent_tokens=300, chunk_tokens=2_000, summary_tokens=500)
    plan = plan_compression(conversation, tight, WordSizer())
    assert len(plan.chunks) * tight.summary_tokens > plan.summary_budget
    assert plan.reduce_levels >= 1


def test_inputs_are_validated() -> None:
    with pytest.raises(ValueError):
        PlanInputs(budget=0)
    with pytest.raises(ValueError):
        PlanInputs(budget=10, chunk_tokens=1_000, summary_tokens=600)
    with pytest.raises(ValueError):
        PlanInputs(budget=10, keep_recent_share=1.0)


def test_tool_calls_without_results_stay_with_their_unit() -> None:
    # An assistant call at the very end (its result not back yet) is the recent unit.
    messages = [
        user(10),
        assistant(3000),
        user(10),
        Message("assistant", [ToolCall("c9", "run", "{}")]),
    ]
    plan = plan_compression(Conversation(messages=messages), PlanInputs(budget=1_000), WordSizer())
    assert plan.kept[-1] == 3
