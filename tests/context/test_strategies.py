"""The strategies and their faults: a summarizer that fails, times out or answers nothing
leads to the long-context profile or a clear error (never an over-long or truncated
request); `none` moves, `reject` refuses; per profile and per request; a conversation
with nothing older to summarize moves; one message larger than every model is a 400."""

from __future__ import annotations

import time
from typing import Any

import httpx2
import openai
import pytest

from tests.context.checks import exact_tokens
from tests.context.conftest import ContextStack, StackFactory
from tests.context.test_summarize import agent_request
from tests.data.transcripts import WORDS
from tests.fakes import AcceptThenSilent, ServerError


def chat(stack: ContextStack, body: dict[str, Any], **headers: str) -> httpx2.Response:
    return stack.post("/v1/chat/completions", body, **headers)


def one_message(tokens: int) -> dict[str, Any]:
    """A system prompt and one user message of about `tokens` o200k tokens."""
    words = " ".join(WORDS[i % len(WORDS)] for i in range(tokens))
    return {
        "model": "main",
        "messages": [
            {"role": "system", "content": "You are a careful reader."},
            {"role": "user", "content": "Summarize this log:\n" + words},
        ],
    }


def assert_moved_to_long(stack: ContextStack, response: httpx2.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["x-switchpoint-context"] == "moved"
    assert response.headers["x-switchpoint-profile"] == "long"
    assert stack.main.request_count() == 0  # never sent over main's limit
    assert stack.long.request_count() == 1


def test_a_failing_summarizer_leads_to_the_long_context_profile(stack: ContextStack) -> None:
    stack.summarizer.set_mode(ServerError())
    response = chat(stack, agent_request(150_000))
    assert_moved_to_long(stack, response)
    # The original conversation, whole: not a truncated one passed off as complete.
    original = agent_request(150_000)["messages"]
    sent = stack.long.last_request.body["contents"]
    responses = [p for c in sent for p in c["parts"] if "functionResponse" in p]
    assert len(responses) == sum(1 for m in original if m["role"] == "tool")
    assert not any("switchpoint: summary" in str(p) for c in sent for p in c["parts"])
    # The size reported is the long profile's own count (Gemini's ratio: ~1.2 x o200k).
    before = int(response.headers["x-switchpoint-context-tokens-before"])
    assert before > 1.1 * exact_tokens(agent_request(150_000))
    (call,) = stack.recorder.calls
    assert call.summarization is not None and call.summarization.outcome == "failed"
    assert call.decision is not None
    assert call.decision.rules[0] == "summarization_fallback"
    assert "summarization failed" in call.decision.explanations[0]
    assert any(a.reason == "summarize" and a.outcome == "server_error" for a in call.attempts)


def test_an_empty_summary_is_a_failure_too(stack: ContextStack) -> None:
    stack.summarizer.reply_text = "   "
    response = chat(stack, agent_request(150_000))
    assert_moved_to_long(stack, response)
    assert stack.recorder.calls[-1].summarization.outcome == "empty"  # type: ignore[union-attr]


def test_a_silent_summarizer_times_out_within_its_limit(make_stack: StackFactory) -> None:
    stack = make_stack(summarizer_timeout_s=1.0)
    stack.summarizer.set_mode(AcceptThenSilent())
    started = time.monotonic()
    response = chat(stack, agent_request(150_000))
    assert time.monotonic() - started < 1.0 + 10  # bounded (generous on a loaded machine)
    assert_moved_to_long(stack, response)
    assert stack.recorder.calls[-1].summarization.outcome == "timeout"  # type: ignore[union-attr]


def test_failing_summarization_with_nowhere_to_go_is_a_clear_error(
    stack: ContextStack,
) -> None:
    stack.summarizer.set_mode(ServerError())
    response = chat(stack, agent_request(1_200_000))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "context_length_exceeded"
    assert "could not be summarized" in error["message"]
    assert "largest context available is 1000000" in error["message"]
    assert response.headers["x-switchpoint-context"] == "rejected"
    assert stack.main.request_count() == stack.long.request_count() == 0


def test_none_moves_and_reject_refuses(stack: ContextStack) -> None:
    body = agent_request(150_000)
    moved = chat(stack, body, **{"x-switchpoint-context-strategy": "none"})
    assert_moved_to_long(stack, moved)
    assert stack.summarizer.request_count() == 0
    assert stack.recorder.calls[-1].decision.rules == ["context_fit"]  # type: ignore[union-attr]

    rejected = chat(stack, body, **{"x-switchpoint-context-strategy": "reject"})
    assert rejected.status_code == 400
    error = rejected.json()["error"]
    assert error["code"] == "context_length_exceeded"
    assert "'reject'" in error["message"] and "main's context of 100000" in error["message"]
    assert rejected.headers["x-switchpoint-context"] == "rejected"
    # The size it was refused for (it once read 0, while the message gave the count).
    assert int(rejected.headers["x-switchpoint-context-tokens-before"]) > 100_000
    assert stack.long.request_count() == 1 and stack.main.request_count() == 0

    bad = chat(stack, body, **{"x-switchpoint-context-strategy": "truncate"})
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "X-Switchpoint-Context-Strategy"


def test_a_profile_sets_its_own_strategy_and_a_request_overrides_it(
    make_stack: StackFactory,
) -> None:
    stack = make_stack(profile_strategies={"main": "none"})
    body = agent_request(150_000)
    assert chat(stack, body).headers["x-switchpoint-context"] == "moved"
    overridden = chat(stack, body, **{"x-switchpoint-context-strategy": "hierarchical"})
    assert overridden.headers["x-switchpoint-context"] == "summarized"
    assert overridden.headers["x-switchpoint-profile"] == "main"


def test_nothing_older_to_summarize_moves_to_a_model_that_holds_it(stack: ContextStack) -> None:
    response = chat(stack, one_message(150_000))
    assert_moved_to_long(stack, response)
    assert stack.summarizer.request_count() == 0
    decision = stack.recorder.calls[-1].decision
    assert decision is not None and decision.rules == ["context_fit"]
    assert any("no earlier turns to summarize" in note for note in decision.explanations)


def test_a_last_message_larger_than_every_model_is_a_clear_400(stack: ContextStack) -> None:
    response = chat(stack, one_message(1_100_000))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "context_length_exceeded"
    assert "The last message alone needs about" in error["message"]
    assert "largest context available is 1000000" in error["message"]
    assert stack.main.request_count() == stack.long.request_count() == 0


def test_a_small_request_passes_untouched(stack: ContextStack) -> None:
    client = stack.openai()
    raw = client.chat.completions.with_raw_response.create(
        model="main", messages=[{"role": "user", "content": "hello there"}]
    )
    assert raw.headers["x-switchpoint-context"] == "passed"
    before = int(raw.headers["x-switchpoint-context-tokens-before"])
    assert 0 < before < 50
    assert raw.headers["x-switchpoint-context-tokens-after"] == str(before)
    # Forwarded as sent (native, not re-encoded).
    assert stack.main.last_request.body["messages"] == [{"role": "user", "content": "hello there"}]


@pytest.mark.parametrize("strategy", ["hierarchical", "none", "reject"])
def test_a_request_that_fits_is_never_touched(stack: ContextStack, strategy: str) -> None:
    body = agent_request(60_000)
    response = chat(stack, body, **{"x-switchpoint-context-strategy": strategy})
    assert response.status_code == 200
    assert response.headers["x-switchpoint-context"] == "passed"
    assert stack.main.last_request.body["messages"] == [
        {k: v for k, v in m.items() if k != "switchpoint_keep"} for m in body["messages"]
    ]
    assert exact_tokens(stack.main.last_request.body) < 100_000


def test_the_openai_sdk_sees_a_context_error_it_understands(stack: ContextStack) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        stack.openai().chat.completions.create(
            **one_message(1_100_000), extra_headers={"x-switchpoint-context-strategy": "reject"}
        )
    assert raised.value.code == "context_length_exceeded"
