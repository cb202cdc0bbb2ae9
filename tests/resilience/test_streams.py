"""Streams that fail, through the official OpenAI SDK: before any byte (retried), after
part of the answer (continued from exactly the text sent), or beyond repair (a clean
error event). Never a truncated answer that looks complete, never duplicated text."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import openai
import pytest

from tests.fakes import (
    CutAfter,
    InvalidEvent,
    MissingSentinel,
    OpenAIFake,
    ServerError,
    StallAfter,
    StreamErrorEvent,
)
from tests.resilience.gateway_thread import GatewayThread
from tests.resilience.topology import KEYS, openai_pair
from tests.waiting import wait_until

ANSWER = (
    "The quick brown fox jumps over the lazy dog, then rests by the river bank "
    "while the sun sets slowly behind the distant hills."
)
USER = [{"role": "user", "content": "tell me about the fox"}]
Pair = tuple[OpenAIFake, OpenAIFake]


@dataclass
class Received:
    text: str = ""
    finish: str | None = None
    usage: Any = None
    models: list[str] = field(default_factory=list)
    error: openai.APIError | None = None
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def stream(gw: GatewayThread, **extra: Any) -> Received:
    api = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)
    got = Received()
    started = time.monotonic()
    with api.chat.completions.with_streaming_response.create(
        model="main",
        messages=extra.pop("messages", USER),
        stream=True,
        stream_options={"include_usage": True},
        **extra,
    ) as response:
        got.headers = dict(response.headers)
        try:
            for chunk in response.parse():
                if chunk.model not in got.models:
                    got.models.append(chunk.model)
                if chunk.usage is not None:
                    got.usage = chunk.usage
                for choice in chunk.choices:
                    got.text += choice.delta.content or ""
                    got.finish = choice.finish_reason or got.finish
        except openai.APIError as error:
            got.error = error
    got.seconds = time.monotonic() - started
    return got


def prepare(primary: OpenAIFake, backup: OpenAIFake) -> None:
    for fake in (primary, backup):
        fake.reply_text = ANSWER
        fake.stream_chunks = 8
        fake.prefill = "continue"


def prefill(gpt_a: bool | None, gpt_b: bool | None) -> dict[str, Any]:
    return {
        "gpt-a": {"supports_prefill": gpt_a},
        "gpt-b": {"supports_prefill": gpt_b},
    }


def trailing_assistant(fake: OpenAIFake, index: int) -> str | None:
    last = fake.requests[index].body["messages"][-1]
    return last["content"] if last["role"] == "assistant" else None


def test_cut_mid_answer_is_continued_on_the_same_model(pair: Pair) -> None:
    primary, backup = pair
    prepare(primary, backup)
    primary.enqueue(CutAfter(events=4))
    document = openai_pair(primary.base_url, backup.base_url, models=prefill(True, None))
    with GatewayThread(document, KEYS) as gw:
        got = stream(gw)
        call = gw.recorder.calls[-1]
    assert got.error is None
    assert got.text == ANSWER
    assert got.finish == "stop"
    assert primary.request_count() == 2 and backup.request_count() == 0
    sent = trailing_assistant(primary, 1)
    assert sent is not None and ANSWER.startswith(sent) and 0 < len(sent) < len(ANSWER)
    assert call.continuations == 1
    assert call.models == ["gpt-a"]
    assert [a.reason for a in call.attempts] == ["first", "continuation"]
    assert call.attempts[0].outcome == "dropped" and call.attempts[0].delivered
    # Usage names both attempts: the cut one estimated, the continuation as reported.
    assert call.attempts[0].usage_estimated
    assert got.usage is not None and got.usage.completion_tokens >= 1
    assert got.usage.completion_tokens == call.usage.output_tokens
    assert gw.recorder.count("continuation", "succeeded") == 1


def test_cut_is_continued_by_the_chain_when_the_model_cannot_prefill(pair: Pair) -> None:
    primary, backup = pair
    prepare(primary, backup)
    primary.enqueue(CutAfter(events=3))
    document = openai_pair(primary.base_url, backup.base_url, models=prefill(False, True))
    with GatewayThread(document, KEYS) as gw:
        got = stream(gw)
        call = gw.recorder.calls[-1]
    assert got.text == ANSWER and got.finish == "stop"
    assert primary.request_count() == 1 and backup.request_count() == 1
    assert ANSWER.startswith(trailing_assistant(backup, 0) or "-")
    assert call.models == ["gpt-a", "gpt-b"]


def test_stall_mid_answer_is_continued(pair: Pair) -> None:
    primary, backup = pair
    prepare(primary, backup)
    primary.enqueue(StallAfter(events=4))
    document = openai_pair(primary.base_url, backup.base_url, models=prefill(True, True))
    with GatewayThread(document, KEYS) as gw:
        got = stream(gw)
        call = gw.recorder.calls[-1]
    assert got.text == ANSWER and got.finish == "stop"
    assert call.attempts[0].outcome == "stalled"
    assert got.seconds < 1.0 + 5  # the idle limit, plus a loaded machine's margin
    assert primary.requests[0].wait_disconnected(3)


def test_a_continuation_that_starts_over_is_not_duplicated(pair: Pair) -> None:
    primary, backup = pair
    prepare(primary, backup)
    backup.prefill = "ignore"  # answers the whole thing again, prefix included
    primary.enqueue(CutAfter(events=5))
    document = openai_pair(primary.base_url, backup.base_url, models=prefill(False, True))
    with GatewayThread(document, KEYS) as gw:
        got = stream(gw)
    assert got.text == ANSWER
    assert got.finish == "stop"


def test_error_event_mid_answer_is_continued(pair: Pair) -> None:
    primary, backup = pair
    prepare(primary, backup)
    primary.enqueue(StreamErrorEvent(after=4, kind="server_error"))
    document = openai_pair(primary.base_url, backup.base_url, models=prefill(True, True))
    with GatewayThread(document, KEYS) as gw:
        got = stream(gw)
        call = gw.recorder.calls[-1]
    assert got.text == ANSWER and got.finish == "stop"
    assert call.attempts[0].outcome == "stream_error"


def test_a_stream_that_ends_without_finishing_is_completed(pair: Pair) -> None:
    primary, backup = pair
    prepare(primary, backup)
    primary.enqueue(MissingSentinel(keep_finish=False))  # all text, no finish, no [DONE]
    document = openai_pair(primary.base_url, backup.base_url, models=prefill(True, True))
    with GatewayThread(document, KEYS) as gw:
        got = stream(gw)
        call = gw.recorder.calls[-1]
    assert got.text == ANSWER and got.finish == "stop"
    assert call.attempts[0].outcome == "truncated"
    assert call.continuations == 1


def test_missing_sentinel_after_the_finish_is_finalized_with_usage(pair: Pair) -> None:
    primary, backup = pair
    prepare(primary, backup)
    primary.enqueue(MissingSentinel(keep_finish=True))
    with GatewayThread(openai_pair(primary.base_url, backup.base_url), KEYS) as gw:
        got = stream(gw)
        call = gw.recorder.calls[-1]
    assert got.text == ANSWER and got.finish == "stop"
    assert got.usage is not None and got.usage.completion_tokens == len(ANSWER.split())
    assert call.upstream_attempts == 1 and call.continuations == 0
    assert got.seconds < 3


def test_invalid_events_are_skipped_and_counted(pair: Pair) -> None:
    primary, backup = pair
    prepare(primary, backup)
    primary.enqueue(InvalidEvent(after=3, payload='{"choices": [7]}'))
    with GatewayThread(openai_pair(primary.base_url, backup.base_url), KEYS) as gw:
        got = stream(gw)
        call = gw.recorder.calls[-1]
        counted = gw.recorder.count("malformed_events")
    assert got.text == ANSWER and got.finish == "stop"
    assert call.malformed_events == 1
    assert counted == 1
    assert primary.request_count() == 1


def test_no_target_can_continue_ends_with_an_error_event(pair: Pair) -> None:
    primary, backup = pair
    prepare(primary, backup)
    primary.enqueue(CutAfter(events=4))
    document = openai_pair(primary.base_url, backup.base_url, models=prefill(False, False))
    with GatewayThread(document, KEYS) as gw:
        got = stream(gw)
        call = gw.recorder.calls[-1]
    assert got.error is not None
    assert "interrupted" in got.error.message and "no target can continue" in got.error.message
    assert got.finish is None  # never presented as complete
    assert 0 < len(got.text) < len(ANSWER) and ANSWER.startswith(got.text)
    assert backup.request_count() == 0
    assert call.status == "upstream_error"
    # Recorded with the status the client got: the 200 head went out with the first text.
    assert call.http_status == 200 and call.error_kind is not None
    assert gw.recorder.count("continuation", "failed") == 1


def test_tool_calls_cut_mid_stream_end_with_an_error_event(pair: Pair) -> None:
    primary, backup = pair
    prepare(primary, backup)
    primary.tool_call = ("get_weather", {"city": "Paris", "unit": "celsius"})
    primary.enqueue(CutAfter(events=3))
    tools = [
        {
            "type": "function",
            "function": {"name": "get_weather", "parameters": {"type": "object"}},
        }
    ]
    document = openai_pair(primary.base_url, backup.base_url, models=prefill(True, True))
    with GatewayThread(document, KEYS) as gw:
        got = stream(gw, tools=tools)
    assert got.error is not None and "tool calls cannot be resumed" in got.error.message
    assert got.finish is None
    assert primary.request_count() == 1 and backup.request_count() == 0


def test_a_legacy_function_call_cut_mid_stream_ends_with_an_error_event(pair: Pair) -> None:
    """A `functions` client's call, cut: it cannot be resumed as text any more than a
    tool call can (the continuation would have the model write prose after it)."""
    from tests.fakes import RawResponse
    from tests.fakes.raw_streams import openai_chunk, sse_body

    primary, backup = pair
    prepare(primary, backup)
    deltas = [
        {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": ""}},
        {"function_call": {"arguments": '{"a":'}},
    ]
    # The body ends there: no finish reason, no [DONE].
    cut = sse_body([openai_chunk(d) for d in deltas])
    primary.enqueue(RawResponse(status=200, body=cut, content_type="text/event-stream"))
    document = openai_pair(primary.base_url, backup.base_url, models=prefill(True, True))
    with GatewayThread(document, KEYS) as gw:
        got = stream(gw, functions=[{"name": "f", "parameters": {"type": "object"}}])
    assert got.error is not None and "cannot be resumed" in got.error.message
    assert got.finish is None
    assert primary.request_count() == 1 and backup.request_count() == 0


def test_prefill_rejection_is_learned(pair: Pair) -> None:
    primary, backup = pair
    prepare(primary, backup)
    primary.prefill = "reject"
    primary.enqueue(CutAfter(events=4))
    document = openai_pair(primary.base_url, backup.base_url, models=prefill(True, True))
    with GatewayThread(document, KEYS) as gw:
        first = stream(gw)
        primary.enqueue(CutAfter(events=4))
        second = stream(gw)
        learned = gw.recorder.count("prefill_unsupported")
    assert first.text == ANSWER and second.text == ANSWER
    # cut, rejected continuation, cut: the second cut is not offered to gpt-a again.
    assert [r.behaviour for r in primary.requests] == ["CutAfter", "prefill_rejected", "CutAfter"]
    assert backup.request_count() == 2
    assert learned == 1


def test_a_continuation_target_that_fails_is_retried_then_failed_over(pair: Pair) -> None:
    primary, backup = pair
    prepare(primary, backup)
    primary.enqueue(CutAfter(events=4), ServerError(), ServerError(), ServerError())
    document = openai_pair(primary.base_url, backup.base_url, models=prefill(True, True))
    with GatewayThread(document, KEYS) as gw:
        got = stream(gw)
        call = gw.recorder.calls[-1]
    assert got.text == ANSWER and got.finish == "stop"
    assert primary.request_count() == 4 and backup.request_count() == 1
    assert call.models == ["gpt-a", "gpt-b"]


@pytest.mark.parametrize("events", [2, 5, 9])
def test_cut_anywhere_never_loses_or_repeats_text(pair: Pair, events: int) -> None:
    primary, backup = pair
    prepare(primary, backup)
    primary.enqueue(CutAfter(events=events))
    document = openai_pair(primary.base_url, backup.base_url, models=prefill(True, True))
    with GatewayThread(document, KEYS) as gw:
        got = stream(gw)
    assert got.text == ANSWER and got.finish == "stop"


def test_a_client_that_leaves_mid_stream_releases_the_upstream(pair: Pair) -> None:
    primary, backup = pair
    prepare(primary, backup)
    primary.chunk_gap = 0.3  # a slow answer the client will not wait for
    with GatewayThread(openai_pair(primary.base_url, backup.base_url), KEYS) as gw:
        api = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)
        with api.chat.completions.create(model="main", messages=USER, stream=True) as chunks:
            for index, _ in enumerate(chunks):
                if index == 2:
                    break
        assert primary.requests[0].wait_disconnected(5)
        assert wait_until(lambda: bool(gw.recorder.calls), 5)
        call = gw.recorder.calls[-1]
    assert call.status == "cancelled"
    assert call.http_status == 200  # the client had its 200 and part of the answer
    assert call.attempts[0].outcome == "cancelled"
    assert backup.request_count() == 0 and primary.request_count() == 1
