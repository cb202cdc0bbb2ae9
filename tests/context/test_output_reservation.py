"""The reply's `max_tokens` counts against a model's context (OpenAI and Anthropic refuse
a prompt that leaves less room than it asks for): a request whose prompt fits a model but
not with the answer it asks for is summarized to leave that room, or moved, never sent."""

from __future__ import annotations

from typing import Any

from tests.context.checks import exact_tokens
from tests.context.conftest import ContextStack
from tests.context.test_summarize import agent_request

MAIN_CONTEXT = 100_000


def near_the_limit() -> tuple[dict[str, Any], int]:
    """A conversation under main's context, and a max_tokens that the rest cannot hold."""
    body = agent_request(95_000)
    prompt = exact_tokens(body)
    assert prompt < MAIN_CONTEXT - 5_000
    return body, MAIN_CONTEXT - prompt + 2_000


def sent_with_answer(stack: ContextStack) -> int:
    body = stack.main.last_request.body
    return exact_tokens(body) + body["max_completion_tokens"]


def test_a_prompt_that_fits_without_its_answer_is_summarized_to_leave_room(
    stack: ContextStack,
) -> None:
    body, max_tokens = near_the_limit()
    response = stack.post("/v1/chat/completions", {**body, "max_tokens": max_tokens})
    assert response.status_code == 200, response.text
    assert response.headers["x-switchpoint-context"] == "summarized"
    assert response.headers["x-switchpoint-profile"] == "main"
    assert sent_with_answer(stack) <= MAIN_CONTEXT


def test_with_strategy_none_it_moves_to_a_model_that_holds_both(stack: ContextStack) -> None:
    body, max_tokens = near_the_limit()
    response = stack.post(
        "/v1/chat/completions",
        {**body, "max_tokens": max_tokens},
        **{"x-switchpoint-context-strategy": "none"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-switchpoint-context"] == "moved"
    assert stack.main.request_count() == 0


def test_route_explains_it(stack: ContextStack) -> None:
    body, max_tokens = near_the_limit()
    plan = stack.post("/v1/route", {**body, "max_tokens": max_tokens}).json()
    assert plan["context_action"] == "summarized"
    assert plan["context_budget"] <= MAIN_CONTEXT - max_tokens
    fits = stack.post("/v1/route", {**body, "max_tokens": 1_000}).json()
    assert fits["context_action"] == "passed"


def test_an_answer_larger_than_a_context_goes_where_it_is_capped_to_fit(
    stack: ContextStack,
) -> None:
    # Claude Opus 4.7 writes at most 128K (the built-in `output_limit_tokens`): only that
    # much is reserved on it, and it is what the request is capped to there.
    body = {"model": "main", "messages": [{"role": "user", "content": "hi"}]}
    response = stack.post("/v1/chat/completions", {**body, "max_tokens": 2_000_000})
    assert response.status_code == 200, response.text
    assert response.headers["x-switchpoint-profile"] == "claude"
    assert stack.claude.last_request.body["max_tokens"] == 128_000
    assert stack.main.request_count() == 0


def test_an_answer_no_model_has_room_for_is_a_clear_400(stack: ContextStack) -> None:
    response = stack.post(
        "/v1/chat/completions", {**agent_request(80_000), "max_tokens": 2_000_000}
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "context_length_exceeded"
    assert "of answer (max_tokens)" in error["message"]
    assert stack.main.request_count() == stack.claude.request_count() == 0
    assert stack.long.request_count() == 0
