"""A budget reserves what summarizing a call may cost, not only the call itself: the
summarizer's calls are the call's attempts and are charged to its task and key, so a
call admitted without them could spend far beyond what was left."""

from __future__ import annotations

from tests.context.conftest import StackFactory
from tests.context.test_summarize import agent_request

# About 119K tokens of earlier turns to summarize (two chunks) and 99K dispatched.
SUMMARIZED = 150_000


def task(budget_tokens: int) -> dict[str, str]:
    return {
        "x-switchpoint-task-id": f"task-{budget_tokens}",
        "x-switchpoint-task-budget-tokens": str(budget_tokens),
    }


def test_a_task_budget_that_cannot_pay_for_the_summaries_refuses_before_any_call(
    make_stack: StackFactory,
) -> None:
    stack = make_stack(cost={"on_task_budget": "reject"})
    # The summarized call alone (~100K with its answer) fits 150K; with its summaries not.
    response = stack.post("/v1/chat/completions", agent_request(SUMMARIZED), **task(150_000))
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "budget_exceeded"
    assert "would exceed its token budget" in error["message"]
    assert stack.summarizer.request_count() == stack.main.request_count() == 0


def test_a_task_budget_that_can_pay_for_them_is_served_and_charged_what_it_spent(
    make_stack: StackFactory,
) -> None:
    stack = make_stack(cost={"on_task_budget": "reject"})
    # Each summary is billed 60K tokens in: what the summarizer read is charged.
    stack.summarizer.input_tokens = 60_000
    headers = task(400_000)
    response = stack.post("/v1/chat/completions", agent_request(SUMMARIZED), **headers)
    assert response.status_code == 200, response.text
    assert response.headers["x-switchpoint-context"] == "summarized"
    (call,) = stack.recorder.calls
    summaries = [a for a in call.attempts if a.reason == "summarize"]
    assert len(summaries) == 2 and all(a.usage is not None for a in summaries)
    spent = call.usage.input_tokens + call.usage.output_tokens
    assert spent > 120_000
    # The reservation was released and the spend settled: what is left admits a small
    # call, and the task shows what the summaries cost.
    gateway = stack.server.gateway
    assert gateway is not None
    account = gateway.admission.tasks.get("task-400000")
    assert account is not None and account.tokens.spend.settled == spent
    small = {"model": "main", "messages": [{"role": "user", "content": "next"}]}
    assert stack.post("/v1/chat/completions", small, **headers).status_code == 200
