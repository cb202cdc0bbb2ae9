"""A provider's context-length error (in each vendor's own shape) is handled by the
request's strategy, once: `hierarchical` retries once, summarized below the limit the
provider quoted; `none` moves to a larger-context profile; `reject` returns the error.
Never a loop.

The fakes count one token per word, far fewer than switchpoint's o200k count: a request
switchpoint believes fits can overflow a fake's `context_windows`, like a model whose
tokenizer counts more than switchpoint's estimate."""

from __future__ import annotations

import json
from typing import Any

import anthropic

from tests.context.conftest import CLIENT_KEY, HTTP, SUMMARY, ContextStack
from tests.context.test_summarize import agent_request
from tests.data.transcripts import anthropic_body, cached_transcript
from tests.fakes import ContextLengthExceeded, RawResponse

TOKENS_BEFORE = "x-switchpoint-context-tokens-before"


def prompt_words(stack: ContextStack, body: dict[str, Any]) -> int:
    """What the main fake counts for `body` (a first call, before any window is set)."""
    response = stack.post("/v1/chat/completions", body)
    assert response.status_code == 200
    words: int = response.json()["usage"]["prompt_tokens"]
    stack.main.clear()
    stack.recorder.calls.clear()
    stack.recorder.attempts.clear()
    return words


def test_hierarchical_retries_once_summarized_below_the_quoted_limit(
    stack: ContextStack,
) -> None:
    body = agent_request(60_000)
    words = prompt_words(stack, body)
    stack.main.context_windows["gpt-main"] = words // 2
    response = stack.post("/v1/chat/completions", body)
    assert response.status_code == 200, response.text
    assert response.headers["x-switchpoint-context"] == "summarized"
    assert response.headers["x-switchpoint-profile"] == "main"
    first, retry = stack.main.requests
    assert first.behaviour == "context_window" and retry.behaviour == "default"
    assert response.json()["usage"]["prompt_tokens"] <= words // 2
    (call,) = stack.recorder.calls
    assert call.summarization is not None and call.summarization.trigger == "context_length"
    reasons = [(a.reason, a.outcome) for a in call.attempts]
    assert reasons[0] == ("first", "context_length")
    assert reasons[-1] == ("retry", "ok")
    assert {r for r, _ in reasons[1:-1]} == {"summarize"}
    assert stack.long.request_count() == 0


def test_none_moves_to_a_larger_context(stack: ContextStack) -> None:
    body = agent_request(60_000)
    stack.main.context_windows["gpt-main"] = prompt_words(stack, body) // 2
    response = stack.post(
        "/v1/chat/completions", body, **{"x-switchpoint-context-strategy": "none"}
    )
    assert response.status_code == 200
    assert response.headers["x-switchpoint-context"] == "moved"
    assert response.headers["x-switchpoint-profile"] == "long"
    assert response.headers["x-switchpoint-fallback-reasons"] == "context_length"
    assert stack.main.request_count() == 1 and stack.summarizer.request_count() == 0


def test_reject_returns_the_error(stack: ContextStack) -> None:
    body = agent_request(60_000)
    stack.main.context_windows["gpt-main"] = prompt_words(stack, body) // 2
    response = stack.post(
        "/v1/chat/completions", body, **{"x-switchpoint-context-strategy": "reject"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "context_length_exceeded"
    assert "maximum context length" in response.json()["error"]["message"]
    assert stack.main.request_count() == 1
    assert stack.long.request_count() == stack.summarizer.request_count() == 0


def test_a_summarized_retry_that_overflows_again_is_not_retried_again(
    stack: ContextStack,
) -> None:
    body = agent_request(60_000)
    prompt_words(stack, body)
    # main refuses the original and the summarized retry alike; the long profile too.
    stack.main.enqueue(ContextLengthExceeded(), ContextLengthExceeded())
    stack.long.context_windows["gemini-3-long"] = 50
    response = stack.post("/v1/chat/completions", body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "context_length_exceeded"
    assert "exceeds the maximum number of tokens allowed (50)" in error["message"]
    # main: the original, then one summarized retry; then one move to the long profile.
    assert stack.main.request_count() == 2
    assert stack.long.request_count() == 1
    (call,) = stack.recorder.calls
    assert sum(1 for a in call.attempts if a.outcome == "context_length") == 3
    assert call.summarization is not None and call.summarization.ok


def test_after_a_summary_that_overflows_again_the_larger_model_gets_the_original(
    stack: ContextStack,
) -> None:
    # The summary did not fit after all: the long profile, which holds the original,
    # gets the whole conversation (as `none` sends it), not the summary.
    body = agent_request(60_000)
    prompt_words(stack, body)
    stack.main.enqueue(ContextLengthExceeded(), ContextLengthExceeded())
    response = stack.post("/v1/chat/completions", body)
    assert response.status_code == 200
    assert response.headers["x-switchpoint-profile"] == "long"
    assert response.headers["x-switchpoint-context"] == "moved"
    sent = stack.long.last_request.raw_body.decode()
    assert SUMMARY not in sent
    oldest = next(m for m in body["messages"] if m["role"] == "user")
    assert json.dumps(oldest["content"])[1:60] in sent  # the oldest turn, verbatim
    (call,) = stack.recorder.calls
    assert call.summarization is not None and call.summarization.ok
    assert not call.summarization.dispatched


def test_when_the_quoted_limit_leaves_nothing_to_summarize_it_moves(stack: ContextStack) -> None:
    body = agent_request(60_000)
    prompt_words(stack, body)
    stack.main.context_windows["gpt-main"] = 50  # not even the recent turns fit
    response = stack.post("/v1/chat/completions", body)
    assert response.status_code == 200
    assert response.headers["x-switchpoint-profile"] == "long"
    assert response.headers["x-switchpoint-context"] == "moved"
    assert stack.main.request_count() == 1 and stack.summarizer.request_count() == 0
    record = stack.recorder.calls[-1].summarization
    assert record is not None and record.outcome == "not_compressible"


def test_a_stream_recovers_before_its_first_byte(stack: ContextStack) -> None:
    body = agent_request(60_000)
    stack.main.context_windows["gpt-main"] = prompt_words(stack, body) // 2
    with stack.openai().chat.completions.with_streaming_response.create(
        **body, stream=True
    ) as response:
        assert response.headers["x-switchpoint-context"] == "summarized"
        text = "".join(
            chunk.choices[0].delta.content or "" for chunk in response.parse() if chunk.choices
        )
    assert text == "Hello from gpt-main."
    assert [r.behaviour for r in stack.main.requests] == ["context_window", "default"]


def test_anthropic_s_own_error_is_recognised(stack: ContextStack) -> None:
    transcript = cached_transcript(60_000, 2)
    body = anthropic_body(transcript, model="claude", max_tokens=1000)
    client = anthropic.Anthropic(
        base_url=stack.base_url, api_key=CLIENT_KEY, max_retries=0, http_client=HTTP
    )
    first = client.messages.create(**body)
    stack.claude.context_windows["claude-opus-4-7"] = first.usage.input_tokens // 2
    raw = client.messages.with_raw_response.create(**body)
    assert raw.headers["x-switchpoint-context"] == "summarized"
    assert raw.headers["x-switchpoint-profile"] == "claude"
    assert [r.behaviour for r in stack.claude.requests][-2:] == ["context_window", "default"]
    assert raw.parse().usage.input_tokens <= first.usage.input_tokens // 2


def test_anthropic_s_answer_and_prompt_overflow_is_aimed_below_its_numbers(
    stack: ContextStack,
) -> None:
    # Anthropic's other wording, when the prompt plus `max_tokens` exceed the window.
    body = anthropic_body(cached_transcript(60_000, 2), model="claude", max_tokens=1000)
    client = anthropic.Anthropic(
        base_url=stack.base_url, api_key=CLIENT_KEY, max_retries=0, http_client=HTTP
    )
    ours = int(client.messages.with_raw_response.create(**body).headers[TOKENS_BEFORE])
    # Anthropic counted twice what we did, and 1000 of the window is the answer's.
    quoted = (
        f"input length and `max_tokens` exceed context limit: {2 * ours} + 1000 > "
        f"{ours + 1000}, decrease input length or `max_tokens` and try again"
    )
    error = {"type": "error", "error": {"type": "invalid_request_error", "message": quoted}}
    stack.claude.enqueue(RawResponse(status=400, body=json.dumps(error).encode()))
    raw = client.messages.with_raw_response.create(**body)
    assert raw.headers["x-switchpoint-context"] == "summarized"
    call = stack.recorder.calls[-1]
    assert call.summarization is not None and call.summarization.trigger == "context_length"
    # Aimed below half our count (the quoted limit, scaled to our count), not at 80% of it.
    half = call.summarization.tokens_before // 2
    assert call.summarization.budget <= half
    assert int(raw.headers["x-switchpoint-context-tokens-after"]) <= half
