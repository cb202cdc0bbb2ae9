"""The OpenAI fake's streamed log-probabilities: only when asked (or forced), on the
chunks carrying text, tokens that add up to that text."""

from __future__ import annotations

from tests.fakes import REFUSAL_TEXT, OpenAIFake, Refusal
from tests.fakes.openai_fake import token_logprobs
from tests.fakes_tests.test_openai_fake import MODEL, stream_chunks


def test_no_logprobs_unless_asked(openai_fake: OpenAIFake) -> None:
    chunks = stream_chunks(openai_fake)
    assert all(c.choices[0].logprobs is None for c in chunks if c.choices)
    assert all(c.system_fingerprint == "fp_fake0001" for c in chunks)
    assert all(c.service_tier == "default" for c in chunks)


def test_asked_logprobs_come_with_each_content_chunk(openai_fake: OpenAIFake) -> None:
    chunks = stream_chunks(openai_fake, logprobs=True, top_logprobs=2)
    role, *middle, finish = chunks
    assert role.choices[0].logprobs is None and finish.choices[0].logprobs is None
    tokens = []
    for chunk in middle:
        logprobs = chunk.choices[0].logprobs
        assert logprobs is not None and logprobs.content is not None
        assert "".join(t.token for t in logprobs.content) == chunk.choices[0].delta.content
        assert all(len(t.top_logprobs) == 2 for t in logprobs.content)
        tokens += logprobs.content
    assert [t.logprob for t in tokens] == [-(n + 1) / 100 for n in range(len(tokens))]
    assert "".join(t.token for t in tokens) == f"Hello from {MODEL}."


def test_forced_logprobs_and_refusal_logprobs(openai_fake: OpenAIFake) -> None:
    openai_fake.stream_logprobs = True
    middle = stream_chunks(openai_fake)[1:-1]
    assert all(c.choices[0].logprobs is not None for c in middle)
    openai_fake.enqueue(Refusal())
    refused = stream_chunks(openai_fake)[1:-1]
    pieces = [c.choices[0].logprobs for c in refused]
    assert all(p is not None and p.content is None and p.refusal for p in pieces)
    assert "".join(t.token for p in pieces if p and p.refusal for t in p.refusal) == REFUSAL_TEXT


def test_token_logprobs_concatenate_back() -> None:
    entries = token_logprobs(" a  bc d", 3, 1)
    assert [e["token"] for e in entries] == [" a", "  bc", " d"]
    assert [e["logprob"] for e in entries] == [-0.04, -0.05, -0.06]
    assert entries[0]["top_logprobs"] == [{"token": " a", "logprob": -0.04, "bytes": [32, 97]}]
