"""What the summarizer is sent: a fallback summarizer smaller than a chunk is not sent
that chunk."""

from __future__ import annotations

from tests.context.checks import exact_tokens
from tests.context.conftest import StackFactory
from tests.context.test_summarize import agent_request
from tests.fakes import ServerError

MAIN_CONTEXT = 100_000


def test_a_fallback_summarizer_too_small_for_a_chunk_is_not_sent_it(
    make_stack: StackFactory,
) -> None:
    # Chunks sized for the summarizer's 128K; its fallback, `main`, holds 100K.
    stack = make_stack(summarizer_fallbacks=["main"], chunk_tokens=110_000)
    stack.summarizer.set_mode(ServerError())
    response = stack.post("/v1/chat/completions", agent_request(150_000))
    assert response.status_code == 200, response.text
    for request in stack.main.requests:
        answer = request.body.get("max_completion_tokens") or request.body.get("max_tokens") or 0
        assert exact_tokens(request.body) + answer <= MAIN_CONTEXT
    # The large chunk could not be summarized anywhere: the long-context model got it all.
    assert response.headers["x-switchpoint-context"] == "moved"
    assert response.headers["x-switchpoint-profile"] == "long"
    (call,) = stack.recorder.calls
    assert call.summarization is not None and call.summarization.outcome == "failed"
