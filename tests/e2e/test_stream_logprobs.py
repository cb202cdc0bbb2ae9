"""A streamed OpenAI answer keeps, for an OpenAI client, what the internal events do not
model: `system_fingerprint` and `service_tier` on every chunk, and the log-probabilities
of each piece of content on the chunk carrying it; clients of other protocols get their
usual, valid stream from the same upstream stream."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import CLIENT_KEY, HTTP, MODELS, Stack
from tests.fakes.openai_fake import token_logprobs

QUESTION = "What is the weather like in Paris today"
ANSWER = f"Hello from {MODELS['oa']}."
TEXT = "alpha beta gamma delta epsilon zeta"


def _stream(stack: Stack, **params: Any) -> list[Any]:
    return list(
        stack.openai().chat.completions.create(
            model="oa",
            messages=[{"role": "user", "content": QUESTION}],
            stream=True,
            stream_options={"include_usage": True},
            **params,
        )
    )


def test_logprobs_and_the_constant_fields_reach_an_openai_client(stack: Stack) -> None:
    stack.openai_fake.reply_text, stack.openai_fake.stream_chunks = TEXT, 4
    chunks = _stream(stack, logprobs=True, top_logprobs=2)
    # Forwarded as the client sent them.
    body = stack.openai_fake.last_request.body
    assert body["logprobs"] is True and body["top_logprobs"] == 2
    assert all(c.system_fingerprint == "fp_fake0001" for c in chunks)
    assert all(c.service_tier == "default" for c in chunks)
    content = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) == 4
    seen = 0
    for chunk in content:
        choice = chunk.choices[0]
        assert choice.logprobs is not None and choice.logprobs.content is not None
        # Exactly what the upstream sent with this piece, on the chunk holding it.
        expected = token_logprobs(choice.delta.content, seen, 2)
        assert [t.model_dump() for t in choice.logprobs.content] == expected
        assert "".join(t.token for t in choice.logprobs.content) == choice.delta.content
        seen += len(expected)
    assert "".join(c.choices[0].delta.content for c in content) == TEXT
    assert content[0].choices[0].logprobs.content[0].logprob == -0.01
    others = [c for c in chunks if c.choices and not c.choices[0].delta.content]
    assert others and all(c.choices[0].logprobs is None for c in others)
    assert chunks[-1].usage is not None and chunks[-1].choices == []


def test_without_logprobs_the_chunks_have_none(stack: Stack) -> None:
    chunks = _stream(stack)
    assert "logprobs" not in stack.openai_fake.last_request.body
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ANSWER
    assert all(c.choices[0].logprobs is None for c in chunks if c.choices)
    assert all(c.system_fingerprint == "fp_fake0001" for c in chunks)
    assert all(c.service_tier == "default" for c in chunks)


def test_an_anthropic_client_of_the_same_stream_gets_a_valid_stream(stack: Stack) -> None:
    stack.openai_fake.stream_logprobs = True  # an Anthropic request cannot ask for them
    stack.openai_fake.reply_text, stack.openai_fake.stream_chunks = TEXT, 4
    with stack.anthropic().messages.stream(
        model="oa", max_tokens=100, messages=[{"role": "user", "content": QUESTION}]
    ) as stream:
        kinds = [event.type for event in stream]
        message = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == TEXT  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    # The upstream did stream them; the Anthropic wire carries none of it.
    with HTTP.stream(
        "POST",
        f"{stack.base_url}/v1/messages",
        json={
            "model": "oa",
            "max_tokens": 100,
            "stream": True,
            "messages": [{"role": "user", "content": QUESTION}],
        },
        headers={"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"},
    ) as raw:
        wire = raw.read()
    assert b"text_delta" in wire and b"message_stop" in wire
    assert b"logprob" not in wire and b"fp_fake0001" not in wire


def test_a_responses_client_of_the_same_stream_gets_a_valid_stream(stack: Stack) -> None:
    stack.openai_fake.stream_logprobs = True
    stack.openai_fake.reply_text, stack.openai_fake.stream_chunks = TEXT, 4
    events = list(stack.openai().responses.create(model="oa", input=QUESTION, stream=True))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[-1].type == "response.completed"
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert "".join(e.delta for e in deltas) == TEXT
    assert all(e.logprobs == [] for e in deltas)
    assert events[-1].response.output_text == TEXT
