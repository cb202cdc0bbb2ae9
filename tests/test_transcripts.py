"""The transcript generator: deterministic, sized as asked, well formed in every shape."""

from __future__ import annotations

import re

from switchpoint.chat.request import ChatRequest
from switchpoint.context.assembly import role_problems
from switchpoint.tokens.counter import TokenCounter
from tests.conftest import transcript
from tests.data.transcripts import anthropic_body, conversation, generate, openai_body

CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]")


def test_same_seed_same_transcript_other_seed_other() -> None:
    assert openai_body(generate(30_000, seed=5)) == openai_body(generate(30_000, seed=5))
    assert openai_body(generate(30_000, seed=5)) != openai_body(generate(30_000, seed=6))


def test_size_is_within_ten_percent_of_the_target() -> None:
    t = transcript(120_000, 2)
    request = ChatRequest("openai_chat", openai_body(t), stream=False)
    exact = TokenCounter().count(request, model="gpt-5.4", provider_type="openai", force_exact=True)
    assert abs(exact.tokens - 120_000) / 120_000 < 0.10


def test_large_transcripts_scale() -> None:
    t = transcript(1_200_000, 0)
    assert 1_100_000 <= t.estimated_tokens <= 1_300_000
    assert len(t.turns) > 3_000


def test_content_mix_and_marks() -> None:
    t = transcript(120_000, 2)
    texts = [turn.text for turn in t.turns]
    assert any(CJK.search(text) for text in texts)
    assert any("def " in text for text in texts) and any('"data"' in text for text in texts)
    assert t.turns[0].keep and t.turns[0].role == "user"
    assert openai_body(t, keep_marks=True)["messages"][1]["switchpoint_keep"] is True


def test_every_shape_pairs_calls_with_results() -> None:
    t = transcript(120_000, 2)
    conv = conversation(t)
    assert role_problems(conv) == []
    messages = anthropic_body(t)["messages"]
    assert [m["role"] for m in messages] == [
        "user" if i % 2 == 0 else "assistant" for i in range(len(messages))
    ]
    assert messages[-1]["role"] == "user"
    openai_messages = openai_body(t)["messages"]
    pending: set[str] = set()
    for message in openai_messages:
        if message["role"] == "tool":
            pending.remove(message["tool_call_id"])
        else:
            assert not pending
            pending |= {c["id"] for c in message.get("tool_calls", [])}
    assert not pending
