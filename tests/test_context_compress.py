"""`compress` driven by fake summarizers: reduce levels, cache, failures, validity."""

from __future__ import annotations

import asyncio

import pytest

from switchpoint.chat.content import Message, Text, Thinking, ToolCall, ToolResult
from switchpoint.chat.request import Conversation
from switchpoint.context.assembly import SEAM_NOTE, role_problems
from switchpoint.context.compress import CompressionResult, compress
from switchpoint.context.plan import PlanInputs
from switchpoint.context.summarizer import (
    CompressionDidNotConverge,
    NotCompressible,
    Summarizer,
    SummarizerFailed,
    SummarizerTimeout,
    SummaryEmpty,
)
from switchpoint.context.summary_cache import InMemorySummaryCache
from switchpoint.tokens.counter import TokenCounter
from switchpoint.tokens.sizing import ConversationSizer
from tests.conftest import transcript
from tests.context_helpers import WordSizer, assistant, tool_round, user
from tests.data.transcripts import conversation as to_conversation


class FakeSummarizer:
    """Answers with `fill` of the allowed tokens (in WordSizer words), records prompts."""

    def __init__(self, fill: float = 0.5) -> None:
        self.fill = fill
        self.prompts: list[tuple[str, int]] = []

    async def summarize(self, prompt: str, max_tokens: int) -> str:
        self.prompts.append((prompt, max_tokens))
        return " ".join(["s"] * max(1, int(max_tokens * self.fill)))


def agent_conversation(rounds: int = 30) -> Conversation:
    messages: list[Message] = [user(50, keep=True, word="task")]
    for i in range(rounds):
        messages += tool_round(f"c{i}", 300)
        messages.append(assistant(40))
        messages.append(user(20))
    return Conversation(messages=messages, system=[Text("you are an agent")])


INPUTS = PlanInputs(budget=4_000, keep_recent_tokens=1_000, chunk_tokens=3_000, summary_tokens=500)


def run(
    conversation: Conversation,
    inputs: PlanInputs,
    summarizer: Summarizer,
    cache: InMemorySummaryCache | None = None,
    timeout_s: float = 120.0,
) -> CompressionResult:
    return asyncio.run(
        compress(
            conversation,
            inputs,
            summarizer,
            cache if cache is not None else InMemorySummaryCache(),
            sizer=WordSizer(),
            timeout_s=timeout_s,
        )
    )


def test_compresses_into_the_budget_with_a_marked_summary_and_valid_roles() -> None:
    conversation = agent_conversation()
    summarizer = FakeSummarizer()
    result = run(conversation, INPUTS, summarizer)
    out = result.conversation
    assert result.tokens_before > INPUTS.budget >= result.tokens_after
    assert out.system == conversation.system and out.tools == conversation.tools
    first = out.messages[0]
    assert first.role == "user"
    header = first.text().split("\n", 1)[0]
    assert header == (
        f"[switchpoint: summary of {result.summarized_messages} earlier messages "
        f"({result.plan.summarized_tokens} tokens)]"
    )
    # The kept task message survives verbatim, and the recent messages are the originals.
    assert any(m.keep and "task" in m.text() for m in out.messages)
    assert out.messages[-1] is conversation.messages[-1]
    assert role_problems(out) == []
    assert result.levels == 0 and result.summarizer_calls == len(result.plan.chunks)
    assert all("<transcript" in p and "at most 500 tokens" in p for p, _ in summarizer.prompts)


def test_hierarchical_reduce_when_summaries_are_still_too_large() -> None:
    conversation = agent_conversation(80)
    inputs = PlanInputs(
        budget=3_000, keep_recent_tokens=300, chunk_tokens=2_000, summary_tokens=500
    )
    summarizer = FakeSummarizer(fill=0.9)
    result = run(conversation, inputs, summarizer)
    assert result.levels >= 1
    reduce_prompts = [p for p, _ in summarizer.prompts if "summaries of consecutive parts" in p]
    assert reduce_prompts and all("<summary part=" in p for p in reduce_prompts)
    assert result.tokens_after <= inputs.budget
    assert role_problems(result.conversation) == []


def test_second_call_hits_the_cache() -> None:
    conversation = agent_conversation()
    cache = InMemorySummaryCache()
    first = run(conversation, INPUTS, FakeSummarizer(), cache)
    summarizer = FakeSummarizer()
    second = run(conversation, INPUTS, summarizer, cache)
    assert first.cache_hits == 0 and first.summarizer_calls > 0
    assert second.cache_hits == 1 and second.summarizer_calls == 0 and summarizer.prompts == []
    assert second.conversation.messages[0].text() == first.conversation.messages[0].text()


def test_a_grown_conversation_reuses_the_chunks_it_had() -> None:
    cache = InMemorySummaryCache()
    first = run(agent_conversation(30), INPUTS, FakeSummarizer(), cache)
    grown = run(agent_conversation(36), INPUTS, FakeSummarizer(), cache)
    assert grown.cache_hits >= len(first.plan.chunks) - 1
    assert grown.summarizer_calls < len(grown.plan.chunks)


class Raising:
    async def summarize(self, prompt: str, max_tokens: int) -> str:
        raise ConnectionError("upstream reset")


class Slow:
    async def summarize(self, prompt: str, max_tokens: int) -> str:
        await asyncio.sleep(10)
        return "late"


class Empty:
    async def summarize(self, prompt: str, max_tokens: int) -> str:
        return "   \n"


@pytest.mark.parametrize(
    "summarizer,error",
    [(Raising(), SummarizerFailed), (Slow(), SummarizerTimeout), (Empty(), SummaryEmpty)],
)
def test_summarizer_failures_raise_typed_errors(
    summarizer: Summarizer, error: type[Exception]
) -> None:
    with pytest.raises(error):
        run(agent_conversation(), INPUTS, summarizer, timeout_s=0.05)


def test_failures_are_summarizer_failed_and_nothing_is_cached() -> None:
    cache = InMemorySummaryCache()
    with pytest.raises(SummarizerFailed) as caught:
        run(agent_conversation(), INPUTS, Raising(), cache)
    assert isinstance(caught.value.__cause__, ConnectionError)
    assert len(cache) == 0


def test_not_compressible_is_raised_before_any_call() -> None:
    summarizer = FakeSummarizer()
    with pytest.raises(NotCompressible) as caught:
        run(Conversation(messages=[user(50_000)]), INPUTS, summarizer)
    assert caught.value.plan.reason == "nothing_older" and summarizer.prompts == []


def test_a_summarizer_that_ignores_its_limit_does_not_loop_forever() -> None:
    class Verbose:
        async def summarize(self, prompt: str, max_tokens: int) -> str:
            return " ".join(["v"] * 5_000)

    with pytest.raises(CompressionDidNotConverge):
        run(agent_conversation(), INPUTS, Verbose())


def test_seams_keep_roles_alternating() -> None:
    """A kept assistant message next to a recent assistant one that opens with thinking:
    a note separates them; user next to user is merged (the summary absorbs it)."""
    messages = [
        user(10),
        Message("assistant", [Text("pinned plan " * 20)], keep=True),
        user(900),
        assistant(900),
        user(900),
        Message("assistant", [Thinking("hmm", signature="sig"), Text("next step")]),
        user(5),
    ]
    inputs = PlanInputs(budget=1_500, keep_recent_tokens=40, chunk_tokens=3_000, summary_tokens=200)
    result = run(Conversation(messages=messages), inputs, FakeSummarizer())
    out = result.conversation.messages
    assert role_problems(result.conversation) == []
    assert [m.role for m in out] == ["user", "assistant", "user", "assistant", "user"]
    assert out[2].text() == SEAM_NOTE
    assert isinstance(out[3].content[0], Thinking)


def test_real_sizes_on_a_generated_transcript() -> None:
    """End to end with the real sizer: a 200K-token agent session into 60K for Claude."""
    conversation = to_conversation(transcript(200_000, 6))
    sizer = ConversationSizer(
        TokenCounter(), conversation, model="claude-opus-4-7", provider_type="anthropic"
    )
    inputs = PlanInputs(budget=60_000, chunk_tokens=30_000, summary_tokens=1_000)
    summarizer = FakeSummarizer(fill=0.7)
    result = asyncio.run(
        compress(conversation, inputs, summarizer, InMemorySummaryCache(), sizer=sizer)
    )
    assert result.tokens_after <= inputs.budget < result.tokens_before
    assert role_problems(result.conversation) == []
    calls = {
        b.id for m in result.conversation.messages for b in m.content if isinstance(b, ToolCall)
    }
    results = {
        b.tool_call_id
        for m in result.conversation.messages
        for b in m.content
        if isinstance(b, ToolResult)
    }
    assert results <= calls
    assert result.conversation.messages[1].keep or result.conversation.messages[0].text().count(
        "Task:"
    )
