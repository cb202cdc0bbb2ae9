"""`summarization_strategy: hierarchical` end to end: generated agent transcripts (tool
calls and results, 150K to 1.2M tokens) through the gateway to fake vendors, the
summaries written by a fake summarizer reached through switchpoint's own executor."""

from __future__ import annotations

import json
from typing import Any

import anthropic

from switchpoint.context.assembly import role_problems
from switchpoint.protocols.anthropic.request import decode_request as decode_anthropic
from tests.context.checks import (
    SUMMARY_MARK,
    common_tail,
    exact_tokens,
    text_of,
    tool_pairs_problems,
    turn,
)
from tests.context.conftest import CLIENT_KEY, HTTP, SUMMARY, ContextStack, StackFactory
from tests.data.transcripts import (
    anthropic_body,
    cached_transcript,
    openai_body,
    responses_body,
)

# The main profile's context, less the reply's reservation (`cost.reserve_output_tokens`).
MAIN_BUDGET = 100_000 - 1024


def agent_request(tokens: int, *, model: str = "main", seed: int = 0) -> dict[str, Any]:
    return openai_body(cached_transcript(tokens, seed), model=model, keep_marks=True)


def headers_of(raw: Any) -> dict[str, str]:
    return {k: v for k, v in raw.headers.items() if k.startswith("x-switchpoint")}


def test_a_long_conversation_is_summarized_to_fit_with_its_structure_intact(
    stack: ContextStack,
) -> None:
    body = agent_request(150_000)
    original = body["messages"]
    raw = stack.openai().chat.completions.with_raw_response.create(**body)
    headers = headers_of(raw)
    assert raw.parse().choices[0].message.content == "Hello from gpt-main."

    assert headers["x-switchpoint-context"] == "summarized"
    assert headers["x-switchpoint-profile"] == "main"  # summarized, not moved
    before = int(headers["x-switchpoint-context-tokens-before"])
    after = int(headers["x-switchpoint-context-tokens-after"])
    assert before > 140_000 and after <= MAIN_BUDGET

    sent = stack.main.last_request.body["messages"]
    # What the provider got fits its context, exactly counted.
    assert exact_tokens(stack.main.last_request.body) <= MAIN_BUDGET
    # The system prompt, untouched, first.
    assert turn(sent[0]) == turn(original[0])
    # One clearly marked summary, holding what the summarizer wrote.
    marked = [m for m in sent if text_of(m).startswith(SUMMARY_MARK)]
    assert len(marked) == 1 and SUMMARY in text_of(marked[0])
    # The task the client marked to keep is there verbatim, and the mark is not sent.
    task = text_of(original[1])
    assert original[1]["switchpoint_keep"] is True
    assert any(task in text_of(m) for m in sent[1:3])
    assert not any("switchpoint_keep" in m for m in sent)
    # The most recent turns, verbatim, at least a quarter of the budget's worth.
    tail = common_tail(sent, original)
    assert tail >= 4
    assert exact_tokens({"messages": original[-tail:]}) >= 0.2 * MAIN_BUDGET
    # No tool call separated from its result.
    assert tool_pairs_problems(sent) == []
    assert len(sent) < len(original) - 100

    # The summaries were asked of the summarizer profile, through the executor: attempts
    # of this call (so they are priced and recorded), each within the summarizer's context.
    calls = stack.summarizer.requests
    assert calls and all(r.body["model"] == "gpt-sum" for r in calls)
    assert all(exact_tokens(r.body) <= 128_000 for r in calls)
    assert "compressing the earlier part of a conversation" in text_of(calls[0].body["messages"][0])
    (call,) = stack.recorder.calls
    reasons = [a.reason for a in call.attempts]
    assert reasons == ["summarize"] * len(calls) + ["first"]
    assert headers["x-switchpoint-attempts"] == str(len(calls) + 1)
    assert call.summarization is not None and call.summarization.trigger == "routing"
    assert call.decision is not None and call.decision.rules == ["context_summarized"]


def test_a_responses_client_is_summarized_like_a_chat_one(stack: ContextStack) -> None:
    """Codex-style: /v1/responses with the whole history as items, over the context."""
    body = responses_body(cached_transcript(150_000, 0), model="main", keep_marks=True)
    kept = next(item for item in body["input"] if item.get("switchpoint_keep"))
    raw = stack.openai().responses.with_raw_response.create(**body)
    assert raw.parse().output_text == "Hello from gpt-main."
    headers = headers_of(raw)
    assert headers["x-switchpoint-context"] == "summarized"
    assert headers["x-switchpoint-profile"] == "main"
    assert int(headers["x-switchpoint-context-tokens-before"]) > 140_000
    sent = stack.main.last_request.body["messages"]
    assert exact_tokens(stack.main.last_request.body) <= MAIN_BUDGET
    assert sent[0] == {"role": "system", "content": body["instructions"]}
    assert len([m for m in sent if text_of(m).startswith(SUMMARY_MARK)]) == 1
    assert any(kept["content"] in text_of(m) for m in sent[1:3])
    assert not any("switchpoint_keep" in m for m in sent)
    assert tool_pairs_problems(sent) == []
    # The newest items arrive as they were sent: the last call's output among them.
    outputs = [i for i in body["input"] if i.get("type") == "function_call_output"]
    assert {
        "role": "tool",
        "tool_call_id": outputs[-1]["call_id"],
        "content": outputs[-1]["output"],
    } in sent[-12:]


def test_an_agent_loop_pays_for_each_summary_once(stack: ContextStack) -> None:
    body = agent_request(150_000)
    client = stack.openai()
    client.chat.completions.create(**body)
    first = len(stack.summarizer.requests)
    assert first >= 2

    # The same history resent: every summary comes from the cache.
    raw = client.chat.completions.with_raw_response.create(**body)
    assert len(stack.summarizer.requests) == first
    assert headers_of(raw)["x-switchpoint-context"] == "summarized"
    assert headers_of(raw)["x-switchpoint-attempts"] == "1"

    # The loop goes on: two more turns. Only what changed is summarized again.
    body["messages"] += [
        {"role": "assistant", "content": "I will now fix the failing test. " * 20},
        {"role": "user", "content": "Go ahead, and run the whole suite afterwards."},
    ]
    client.chat.completions.create(**body)
    assert len(stack.summarizer.requests) - first <= 1
    third = stack.recorder.calls[-1].summarization
    assert third is not None and third.ok and third.cache_hits >= 1


def test_over_the_threshold_a_million_token_model_gets_at_most_the_threshold(
    make_stack: StackFactory,
) -> None:
    stack = make_stack(main_fallbacks=())
    # Make `main` a 1M-context model: 1.2M tokens exceed its context and the threshold.
    body = agent_request(1_200_000, model="long")
    raw = stack.openai().chat.completions.with_raw_response.create(
        **body, extra_headers={"x-switchpoint-context-strategy": "hierarchical"}
    )
    headers = headers_of(raw)
    assert headers["x-switchpoint-context"] == "summarized"
    assert headers["x-switchpoint-profile"] == "long"
    assert int(headers["x-switchpoint-context-tokens-before"]) > 1_000_000
    assert int(headers["x-switchpoint-context-tokens-after"]) <= 600_000
    sent = stack.long.last_request.body
    assert sent["systemInstruction"]["parts"][0]["text"] == body["messages"][0]["content"]
    # Gemini pairs each function call with its response in the next turn.
    contents = sent["contents"]
    for i, content in enumerate(contents):
        calls = [p["functionCall"] for p in content["parts"] if "functionCall" in p]
        if calls and i + 1 < len(contents):
            answered = [p["functionResponse"] for p in contents[i + 1]["parts"]]
            assert {c["name"] for c in calls} == {r["name"] for r in answered}


def test_an_anthropic_client_is_summarized_in_its_own_protocol(stack: ContextStack) -> None:
    transcript = cached_transcript(300_000, 1)
    body = anthropic_body(transcript, model="claude", max_tokens=2000, keep_marks=True)
    client = anthropic.Anthropic(
        base_url=stack.base_url, api_key=CLIENT_KEY, max_retries=0, http_client=HTTP
    )
    raw = client.messages.with_raw_response.create(**body)
    assert raw.parse().content[0].text  # type: ignore[union-attr]
    assert raw.headers["x-switchpoint-context"] == "summarized"
    assert raw.headers["x-switchpoint-profile"] == "claude"
    sent = stack.claude.last_request.body
    assert sent["system"] == transcript.system
    # Valid for Anthropic: roles alternate, every tool_result follows its tool_use.
    assert role_problems(decode_anthropic(sent)) == []
    assert sent["messages"][0]["content"][0]["text"].startswith(SUMMARY_MARK)
    assert int(raw.headers["x-switchpoint-context-tokens-after"]) <= 200_000 - 2000


def test_a_stream_is_summarized_before_it_starts(stack: ContextStack) -> None:
    body = agent_request(150_000)
    with stack.openai().chat.completions.with_streaming_response.create(
        **body, stream=True
    ) as response:
        assert response.headers["x-switchpoint-context"] == "summarized"
        text = "".join(
            chunk.choices[0].delta.content or "" for chunk in response.parse() if chunk.choices
        )
    assert text == "Hello from gpt-main."
    assert stack.main.last_request.stream
    assert exact_tokens(stack.main.last_request.body) <= MAIN_BUDGET
    assert tool_pairs_problems(stack.main.last_request.body["messages"]) == []


def test_a_lower_recent_share_keeps_less_verbatim(make_stack: StackFactory) -> None:
    stack = make_stack(keep_recent_tokens=5_000)
    body = agent_request(150_000)
    raw = stack.openai().chat.completions.with_raw_response.create(**body)
    sent = stack.main.last_request.body["messages"]
    tail = common_tail(sent, body["messages"])
    assert tail >= 1 and exact_tokens({"messages": body["messages"][-tail:]}) <= 5_000 + 500
    assert int(headers_of(raw)["x-switchpoint-context-tokens-after"]) < 20_000


def test_summaries_too_large_together_are_summarized_again(make_stack: StackFactory) -> None:
    # Small chunks, each summarized at length, and little room left by the recent turns:
    # the summaries must themselves be summarized (a reduce level).
    stack = make_stack(chunk_tokens=4096, summary_tokens=1000, keep_recent_share=0.9)
    stack.summarizer.reply_text = " ".join(["finding"] * 700)
    body = agent_request(150_000)
    raw = stack.openai().chat.completions.with_raw_response.create(**body)
    assert headers_of(raw)["x-switchpoint-context"] == "summarized"
    record = stack.recorder.calls[-1].summarization
    assert record is not None and record.levels >= 1
    reduce_prompts = [
        r
        for r in stack.summarizer.requests
        if "summaries of consecutive parts" in text_of(r.body["messages"][0])
    ]
    assert reduce_prompts
    assert exact_tokens(stack.main.last_request.body) <= MAIN_BUDGET


def test_tool_definitions_and_tool_choice_survive(stack: ContextStack) -> None:
    body = agent_request(150_000)
    body["tool_choice"] = "auto"
    stack.openai().chat.completions.create(**body)
    sent = stack.main.last_request.body
    assert [t["function"]["name"] for t in sent["tools"]] == [
        t["function"]["name"] for t in body["tools"]
    ]
    assert json.dumps(sent["tools"][0]["function"]["parameters"], sort_keys=True) == json.dumps(
        body["tools"][0]["function"]["parameters"], sort_keys=True
    )
