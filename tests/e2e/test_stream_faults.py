"""Streams that go wrong: a stream is complete only when the vendor said so; anything else
reaches the client as an error in its protocol. An upstream that answers a streaming
request with the whole answer at once (a server of OpenAI's protocol may) is streamed
from that answer."""

from __future__ import annotations

import time

import anthropic
import openai
import pytest

from tests.e2e.conftest import MODELS, Stack, StackFactory
from tests.fakes import (
    CutAfter,
    EndlessEvent,
    IgnoresStream,
    InvalidEvent,
    MissingSentinel,
    RawResponse,
    StallAfter,
    StreamErrorEvent,
)
from tests.fakes.anthropic_fake import AnthropicFake

TEXT = "alpha beta gamma delta epsilon"
USER = [{"role": "user", "content": "tell me"}]


def prepare(stack: Stack, profile: str) -> None:
    fake = stack.fake(profile)
    fake.reply_text = TEXT
    fake.stream_chunks = 5


def openai_stream(stack: Stack, profile: str) -> tuple[str, list[str]]:
    chunks = stack.openai().chat.completions.create(model=profile, messages=USER, stream=True)
    text, finishes = "", []
    for chunk in chunks:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            if chunk.choices[0].finish_reason:
                finishes.append(chunk.choices[0].finish_reason)
    return text, finishes


def anthropic_stream(stack: Stack, profile: str) -> anthropic.types.Message:
    with stack.anthropic().messages.stream(model=profile, max_tokens=100, messages=USER) as s:
        return s.get_final_message()


# Events to let through before cutting, past the first text in each vendor's stream.
CUT_AFTER = {"an": 4, "ge": 2}


@pytest.mark.parametrize("profile", ["an", "ge"])
def test_cut_stream_is_an_error_for_both_sdks(stack: Stack, profile: str) -> None:
    prepare(stack, profile)
    fake = stack.fake(profile)
    fake.enqueue(CutAfter(events=CUT_AFTER[profile]))
    with pytest.raises(openai.APIError) as oa_caught:
        openai_stream(stack, profile)
    assert "stream was cut mid-answer" in str(oa_caught.value)
    assert MODELS[profile] in str(oa_caught.value)
    fake.enqueue(CutAfter(events=CUT_AFTER[profile]))
    with pytest.raises(anthropic.APIStatusError) as an_caught:
        anthropic_stream(stack, profile)
    assert "stream was cut mid-answer" in str(an_caught.value)
    assert isinstance(an_caught.value.body, dict)
    assert an_caught.value.body["error"]["type"] == "api_error"


@pytest.mark.parametrize("profile", ["an", "ge"])
def test_stream_without_its_finish_is_an_error(stack: Stack, profile: str) -> None:
    """The connection ends cleanly, but the vendor never said the answer was complete."""
    prepare(stack, profile)
    stack.fake(profile).enqueue(MissingSentinel(keep_finish=False))
    with pytest.raises(openai.APIError) as caught:
        openai_stream(stack, profile)
    assert "ended before the answer was complete" in str(caught.value)


def test_anthropic_stream_cut_after_its_stop_reason_is_complete(stack: Stack) -> None:
    """`message_delta` carried the stop reason; only `message_stop` was lost."""
    prepare(stack, "an")
    stack.anthropic_fake.enqueue(MissingSentinel(keep_finish=True))
    text, finishes = openai_stream(stack, "an")
    assert text == TEXT and finishes == ["stop"]
    stack.anthropic_fake.enqueue(MissingSentinel(keep_finish=True))
    message = anthropic_stream(stack, "an")
    assert message.stop_reason == "end_turn"
    assert message.content[0].type == "text" and message.content[0].text == TEXT


@pytest.mark.parametrize("profile", ["an", "ge"])
def test_in_stream_vendor_error_reaches_the_client(stack: Stack, profile: str) -> None:
    prepare(stack, profile)
    fake = stack.fake(profile)
    fake.enqueue(StreamErrorEvent(after=CUT_AFTER[profile], kind="overloaded"))
    with pytest.raises(anthropic.APIStatusError) as caught:
        anthropic_stream(stack, profile)
    assert "overloaded" in str(caught.value).lower()
    fake.enqueue(StreamErrorEvent(after=CUT_AFTER[profile], kind="server_error"))
    with pytest.raises(openai.APIError) as oa_caught:
        openai_stream(stack, profile)
    assert "internal" in str(oa_caught.value).lower()


@pytest.mark.parametrize("profile", ["an", "ge"])
def test_malformed_events_are_skipped_and_counted(stack: Stack, profile: str) -> None:
    prepare(stack, profile)
    stack.fake(profile).enqueue(InvalidEvent(after=2))
    text, finishes = openai_stream(stack, profile)
    assert text == TEXT and finishes == ["stop"]
    assert stack.server.gateway is not None
    adapter = stack.server.gateway.adapters[{"an": "anthropic", "ge": "google"}[profile]]
    assert getattr(adapter, "invalid_stream_events", None) == 1


@pytest.mark.parametrize("profile", ["an", "ge"])
def test_failure_before_content_fails_over(make_stack: StackFactory, profile: str) -> None:
    stack = make_stack(fallback=True, **{f"{profile}_fallbacks": ["oa"]})
    prepare(stack, profile)
    # Cut before any text: nothing reached the client, so another model may answer.
    stack.fake(profile).enqueue(CutAfter(events={"an": 1, "ge": 0}[profile]))
    client = stack.anthropic()
    with client.messages.with_streaming_response.create(
        model=profile, max_tokens=100, messages=USER, stream=True
    ) as response:
        assert response.headers["x-switchpoint-fallback"] == "true"
        assert response.headers["x-switchpoint-provider"] == "openai"
        events = list(response.parse())
    text = "".join(
        e.delta.text
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "text_delta"
    )
    assert text == f"Hello from {MODELS['oa']}."
    assert events[-1].type == "message_stop"


def test_failure_before_content_without_fallback_is_an_http_error(stack: Stack) -> None:
    prepare(stack, "ge")
    stack.gemini_fake.enqueue(CutAfter(events=0))
    with pytest.raises(anthropic.APIStatusError) as caught:
        anthropic_stream(stack, "ge")
    assert caught.value.status_code == 502


def test_stalled_stream_is_bounded(make_stack: StackFactory) -> None:
    stack = make_stack()
    fake: AnthropicFake = stack.anthropic_fake
    prepare(stack, "an")
    assert stack.server.gateway is not None
    # A short idle limit for this test only (the adapter reads it per attempt).
    provider = stack.server.gateway.adapters["anthropic"].config
    stack.server.gateway.adapters["anthropic"].config = provider.model_copy(
        update={"stream_idle_timeout_s": 0.5}
    )
    fake.enqueue(StallAfter(events=4))
    started = time.perf_counter()
    with pytest.raises(openai.APIError) as caught:
        openai_stream(stack, "an")
    assert time.perf_counter() - started < 10
    assert "stalled" in str(caught.value)


@pytest.mark.parametrize("profile", ["oa", "an", "ge"])
def test_an_event_that_never_ends_is_cut_off_mid_answer(stack: Stack, profile: str) -> None:
    """An upstream that starts an event and streams bytes into it without end is read
    only so far (16 MB), then the stream is an error: neither the worker's memory nor
    its event loop is given to it (each read used to copy the whole event so far)."""
    prepare(stack, profile)
    stack.fake(profile).enqueue(EndlessEvent(after={"oa": 2, "an": 4, "ge": 2}[profile]))
    started = time.perf_counter()
    with pytest.raises(openai.APIError) as caught:
        openai_stream(stack, profile)
    assert time.perf_counter() - started < 10
    assert "grew past 16777216 bytes without ending" in str(caught.value)
    assert stack.fake(profile).last_request.wait_disconnected()


def test_an_event_that_never_ends_before_any_content_fails_over(
    make_stack: StackFactory,
) -> None:
    stack = make_stack(fallback=True, an_fallbacks=["oa"])
    prepare(stack, "an")
    stack.anthropic_fake.enqueue(EndlessEvent(after=1))
    message = anthropic_stream(stack, "an")
    assert message.content[0].type == "text"
    assert message.content[0].text == f"Hello from {MODELS['oa']}."


def test_a_whole_answer_to_a_streaming_request_is_streamed_to_both_sdks(stack: Stack) -> None:
    prepare(stack, "oa")
    whole = stack.openai().chat.completions.create(model="oa", messages=USER)
    assert whole.usage is not None
    stack.openai_fake.enqueue(IgnoresStream())
    chunks = list(
        stack.openai().chat.completions.create(
            model="oa", messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )
    assert stack.openai_fake.last_request.behaviour == "IgnoresStream"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content == TEXT
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage = [c.usage for c in chunks if c.usage is not None]
    assert usage and (usage[-1].prompt_tokens, usage[-1].completion_tokens) == (
        whole.usage.prompt_tokens,
        whole.usage.completion_tokens,
    )

    stack.openai_fake.enqueue(IgnoresStream())
    message = anthropic_stream(stack, "oa")
    assert message.content[0].type == "text" and message.content[0].text == TEXT
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == whole.usage.completion_tokens


def test_a_json_body_that_is_no_answer_is_an_error_that_says_so(stack: Stack) -> None:
    stack.openai_fake.enqueue(RawResponse(status=200, body=b'{"unexpected": true}'))
    with pytest.raises(openai.APIStatusError) as caught:
        openai_stream(stack, "oa")
    assert caught.value.status_code == 502
    assert "not a chat completion" in str(caught.value)


@pytest.mark.parametrize("profile", ["an", "ge"])
def test_a_json_body_where_a_vendor_always_streams_is_an_error(stack: Stack, profile: str) -> None:
    prepare(stack, profile)
    stack.fake(profile).enqueue(IgnoresStream())
    with pytest.raises(openai.APIStatusError) as caught:
        openai_stream(stack, profile)
    assert caught.value.status_code == 502
    assert "answered a streaming request with JSON" in str(caught.value)


@pytest.mark.parametrize("profile", ["oa", "an", "ge"])
def test_spaced_chunks_of_every_vendor_reach_both_sdks_whole(stack: Stack, profile: str) -> None:
    """Chunks one read apart, as a real model's, in every vendor's protocol, relayed
    whole to clients of both protocols."""
    prepare(stack, profile)
    fake = stack.fake(profile)
    fake.stream_chunks = 8
    fake.chunk_gap = 0.02
    text, finishes = openai_stream(stack, profile)
    assert text == TEXT and finishes == ["stop"]
    message = anthropic_stream(stack, profile)
    assert message.stop_reason == "end_turn"
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == TEXT  # type: ignore[union-attr]
    assert message.usage.output_tokens > 0


@pytest.mark.parametrize("profile", ["an", "ge"])
def test_a_spaced_stream_cut_mid_answer_is_an_error_not_an_end(
    stack: Stack, profile: str
) -> None:
    prepare(stack, profile)
    fake = stack.fake(profile)
    fake.stream_chunks = 8
    fake.chunk_gap = 0.02
    fake.enqueue(CutAfter(events=CUT_AFTER[profile] + 3))
    with pytest.raises(openai.APIError) as caught:
        openai_stream(stack, profile)
    assert "stream was cut mid-answer" in str(caught.value)
