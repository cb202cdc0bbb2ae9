"""What the summarizer is sent and what of its answers is used: a fallback summarizer
smaller than a chunk is not sent that chunk, a summary is sent with room for thinking and
for running past the length asked for, and an answer cut at that limit is not a summary
(the call goes on as if summarizing had failed)."""

from __future__ import annotations

from switchpoint.compaction.summarizer import answer_cap
from tests.context.checks import SUMMARY_MARK, exact_tokens, text_of
from tests.context.conftest import ContextStack, StackFactory
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


def test_a_summary_longer_than_asked_within_its_cap_is_used(stack: ContextStack) -> None:
    # Asked for at most 2,000 tokens; a reasoning model's thinking shares the cap, and
    # a model may overshoot: sent with room for both, a longer answer is whole.
    stack.summarizer.reply_text = " ".join(f"fact{i}" for i in range(3_000))
    response = stack.post("/v1/chat/completions", agent_request(150_000))
    assert response.status_code == 200, response.text
    assert response.headers["x-switchpoint-context"] == "summarized"
    caps = {r.body.get("max_completion_tokens") for r in stack.summarizer.requests}
    assert caps == {answer_cap(2_000)}
    (call,) = stack.recorder.calls
    assert call.summarization is not None and call.summarization.outcome == "summarized"


def test_a_summary_cut_at_its_output_limit_is_not_used(stack: ContextStack) -> None:
    # The fake cuts an answer longer than max_tokens (in words) with a length stop.
    stack.summarizer.reply_text = " ".join(f"fact{i}" for i in range(answer_cap(2_000) + 1))
    response = stack.post("/v1/chat/completions", agent_request(150_000))
    assert response.status_code == 200, response.text
    assert response.headers["x-switchpoint-context"] == "moved"
    assert response.headers["x-switchpoint-profile"] == "long"
    assert stack.main.request_count() == 0
    sent = stack.long.last_request.body["contents"]
    assert not any(SUMMARY_MARK in str(part) for content in sent for part in content["parts"])
    (call,) = stack.recorder.calls
    assert call.summarization is not None and call.summarization.outcome == "truncated"

    # Nothing cut was cached: a summarizer answering in full is asked again, and used.
    stack.summarizer.reply_text = "SUMMARY: all facts."
    again = stack.post("/v1/chat/completions", agent_request(150_000))
    assert again.headers["x-switchpoint-context"] == "summarized"
    marked = [m for m in stack.main.last_request.body["messages"] if SUMMARY_MARK in text_of(m)]
    assert len(marked) == 1 and "fact1" not in text_of(marked[0])


def test_a_summarizer_refusing_a_chunk_as_too_long_is_followed_by_a_larger_model(
    stack: ContextStack,
) -> None:
    # The summarizer's vendor counts more than switchpoint did: its context-length error
    # moves the summary to a larger-context model, which was never measured for the
    # chunk (the summarizer's chain alone was): it is sent the length asked for.
    stack.summarizer.context_windows["gpt-sum"] = 10
    response = stack.post("/v1/chat/completions", agent_request(150_000))
    assert response.status_code == 200, response.text
    (call,) = stack.recorder.calls
    summaries = [a for a in call.attempts if a.reason == "summarize"]
    assert summaries[0].outcome == "context_length"
    assert any(a.profile == "long" and a.outcome == "ok" for a in summaries)
    assert call.summarization is not None and call.summarization.outcome == "summarized"
