"""Faults of Anthropic and Gemini upstreams, driven through the official `anthropic` SDK
(Anthropic ingress) and `openai` SDK: retries, continuation of cut streams, error events
in the client's protocol."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import openai
import pytest

from tests.fakes import (
    AnthropicFake,
    ContextLengthExceeded,
    CutAfter,
    GeminiFake,
    InvalidEvent,
    MissingSentinel,
    OpenAIFake,
    Overloaded,
    RateLimited,
    ServerError,
    StallAfter,
    StreamErrorEvent,
)
from tests.resilience.gateway_thread import GatewayThread
from tests.resilience.topology import FAST_PROVIDER

ANSWER = (
    "Circuit breakers stop a gateway from hammering a provider that is down, and "
    "half-open probes let it back in once it has recovered."
)
KEYS = {"ANT_KEY": "sk-ant-fake", "GEM_KEY": "gemini-fake-key", "OAI_KEY": "sk-fake-openai"}


@dataclass
class Fakes:
    claude: AnthropicFake
    gemini: GeminiFake
    gpt: OpenAIFake


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    with AnthropicFake() as claude, GeminiFake() as gemini, OpenAIFake() as gpt:
        for fake in (claude, gemini, gpt):
            fake.reply_text = ANSWER
            fake.stream_chunks = 8
        yield Fakes(claude, gemini, gpt)


def document(f: Fakes, *, models: dict[str, Any] | None = None) -> dict[str, Any]:
    """`claude` (100k) -> `gemini` (1M) -> `gpt` (100k)."""
    profile = {"cost_weight": 0.5}
    return {
        "logging": {"access_log": False},
        "providers": {
            "ant": {
                "type": "anthropic",
                "base_url": f.claude.base_url,
                "api_key_env": "ANT_KEY",
                **FAST_PROVIDER,
            },
            "gem": {
                "type": "google",
                "base_url": f.gemini.base_url,
                "api_key_env": "GEM_KEY",
                **FAST_PROVIDER,
            },
            "oai": {
                "type": "openai",
                "base_url": f.gpt.base_url,
                "api_key_env": "OAI_KEY",
                **FAST_PROVIDER,
            },
        },
        "models": {"claude-x": {"max_output_tokens": 1000}, **(models or {})},
        "routing": {
            "default_profile": "claude",
            "context": {"long_context_profile": None},
            "cost": {"budget_profile": None},
            "profiles": {
                "claude": {
                    "model": "claude-x",
                    "provider": "ant",
                    "max_context": 100_000,
                    "fallbacks": ["gemini", "gpt"],
                    **profile,
                },
                "gemini": {
                    "model": "gemini-x",
                    "provider": "gem",
                    "max_context": 1_000_000,
                    **profile,
                },
                "gpt": {"model": "gpt-x", "provider": "oai", "max_context": 100_000, **profile},
            },
            "fallback": {
                "max_retries": 2,
                "backoff_base_s": 0.05,
                "backoff_max_s": 0.2,
                "circuit_breaker": {"min_requests": 100_000},
            },
        },
    }


def claude_client(gw: GatewayThread) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.server.base_url, api_key="unused", max_retries=0)


def ask_claude(gw: GatewayThread) -> tuple[anthropic.types.Message, dict[str, str]]:
    raw = claude_client(gw).messages.with_raw_response.create(
        model="claude", max_tokens=500, messages=[{"role": "user", "content": "tell me"}]
    )
    return raw.parse(), dict(raw.headers)


def stream_claude(
    gw: GatewayThread,
) -> tuple[str, anthropic.types.Message | None, Exception | None]:
    text = ""
    try:
        with claude_client(gw).messages.stream(
            model="claude", max_tokens=500, messages=[{"role": "user", "content": "tell me"}]
        ) as stream:
            for piece in stream.text_stream:
                text += piece
            return text, stream.get_final_message(), None
    except anthropic.APIError as error:
        return text, None, error


def test_anthropic_529_is_retried(fakes: Fakes) -> None:
    fakes.claude.enqueue(Overloaded())
    with GatewayThread(document(fakes), KEYS) as gw:
        message, headers = ask_claude(gw)
    assert message.content[0].text == ANSWER  # type: ignore[union-attr]
    assert message.model == "claude-x"
    assert fakes.claude.request_count() == 2
    assert headers["x-switchpoint-retries"] == "1"


def test_anthropic_rate_limit_with_retry_after_spaces_the_retry(fakes: Fakes) -> None:
    fakes.claude.enqueue(RateLimited(retry_after=0.5))
    with GatewayThread(document(fakes), KEYS) as gw:
        message, _ = ask_claude(gw)
    assert message.stop_reason == "end_turn"
    first, second = fakes.claude.requests
    assert second.arrived_at - first.arrived_at >= 0.5


def test_anthropic_cut_stream_is_continued_with_a_prefill(fakes: Fakes) -> None:
    fakes.claude.enqueue(CutAfter(events=5))
    with GatewayThread(document(fakes), KEYS) as gw:
        text, final, error = stream_claude(gw)
        call = gw.recorder.calls[-1]
    assert error is None and final is not None
    assert text == ANSWER
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens >= 1
    assert fakes.claude.request_count() == 2 and fakes.gemini.request_count() == 0
    prefill = fakes.claude.requests[1].body["messages"][-1]
    assert prefill["role"] == "assistant"
    sent = (
        prefill["content"]
        if isinstance(prefill["content"], str)
        else prefill["content"][-1]["text"]
    )
    assert ANSWER.startswith(sent) and sent == sent.rstrip()  # Anthropic refuses trailing space
    assert call.continuations == 1


@pytest.mark.parametrize(
    "fault",
    [
        StallAfter(events=5),
        StreamErrorEvent(after=5, kind="overloaded"),
        MissingSentinel(keep_finish=False),
    ],
)
def test_anthropic_stream_faults_mid_answer_are_completed(fakes: Fakes, fault: Any) -> None:
    fakes.claude.enqueue(fault)
    with GatewayThread(document(fakes), KEYS) as gw:
        text, final, error = stream_claude(gw)
    assert error is None and final is not None
    assert text == ANSWER and final.stop_reason == "end_turn"


def test_anthropic_stream_that_cannot_continue_ends_with_an_error_event(fakes: Fakes) -> None:
    fakes.claude.enqueue(CutAfter(events=5))
    models = {
        "claude-x": {"max_output_tokens": 1000, "supports_prefill": False},
        "gemini-x": {"supports_prefill": False},
    }
    with GatewayThread(document(fakes, models=models), KEYS) as gw:
        text, final, error = stream_claude(gw)
    assert final is None and error is not None
    assert "interrupted" in str(error)
    assert 0 < len(text) < len(ANSWER) and ANSWER.startswith(text)


def test_anthropic_invalid_event_and_missing_sentinel(fakes: Fakes) -> None:
    fakes.claude.enqueue(InvalidEvent(after=4))
    with GatewayThread(document(fakes), KEYS) as gw:
        text, _, error = stream_claude(gw)
        assert gw.recorder.calls[-1].malformed_events == 1
        fakes.claude.enqueue(MissingSentinel(keep_finish=True))
        started = time.monotonic()
        text2, final2, error2 = stream_claude(gw)
        seconds = time.monotonic() - started
    assert error is None and text == ANSWER
    assert error2 is None and text2 == ANSWER and final2 is not None
    assert final2.stop_reason == "end_turn" and final2.usage.output_tokens >= 1
    assert seconds < 3


def test_anthropic_every_target_down_is_a_clean_error(fakes: Fakes) -> None:
    for fake in (fakes.claude, fakes.gemini, fakes.gpt):
        fake.down(fault=ServerError())
    with GatewayThread(document(fakes), KEYS) as gw:
        with pytest.raises(anthropic.APIStatusError) as caught:
            ask_claude(gw)
        text, final, error = stream_claude(gw)
    assert caught.value.status_code == 502
    assert caught.value.response.json()["type"] == "error"
    assert "sk-ant-fake" not in caught.value.response.text
    assert final is None and isinstance(error, anthropic.APIStatusError) and text == ""


def test_anthropic_context_length_moves_to_the_larger_gemini(fakes: Fakes) -> None:
    fakes.claude.enqueue(ContextLengthExceeded(limit=10))
    with GatewayThread(document(fakes), KEYS) as gw:
        message, headers = ask_claude(gw)
    assert message.content[0].text == ANSWER  # type: ignore[union-attr]
    assert message.model.startswith("gemini-x")
    assert headers["x-switchpoint-model"] == "gemini-x"
    assert fakes.claude.request_count() == 1 and fakes.gpt.request_count() == 0


def test_gemini_cut_stream_is_continued_for_an_openai_client(fakes: Fakes) -> None:
    fakes.gemini.enqueue(CutAfter(events=4))
    with GatewayThread(document(fakes), KEYS) as gw:
        api = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)
        text, finish = "", None
        for chunk in api.chat.completions.create(
            model="gemini", messages=[{"role": "user", "content": "tell me"}], stream=True
        ):
            for choice in chunk.choices:
                text += choice.delta.content or ""
                finish = choice.finish_reason or finish
        call = gw.recorder.calls[-1]
    assert text == ANSWER and finish == "stop"
    assert fakes.gemini.request_count() == 2
    assert call.continuations == 1


def test_gemini_rate_limit_is_retried(fakes: Fakes) -> None:
    fakes.gemini.enqueue(RateLimited(retry_after=0.3))
    with GatewayThread(document(fakes), KEYS) as gw:
        api = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)
        completion = api.chat.completions.create(
            model="gemini", messages=[{"role": "user", "content": "tell me"}]
        )
    assert completion.choices[0].message.content == ANSWER
    first, second = fakes.gemini.requests
    assert second.arrived_at - first.arrived_at >= 0.3


def test_a_cut_claude_stream_is_accounted_for_what_it_sent(fakes: Fakes) -> None:
    # Anthropic's `message_start` says 1 output token; that placeholder was taken for the
    # cut attempt's count, so the continuation got nearly the whole `max_tokens` again and
    # the client's usage left out the text already streamed. Found by a fault probe.
    fakes.claude.enqueue(CutAfter(events=7))
    with GatewayThread(document(fakes), KEYS) as gateway:
        text, _, error = stream_claude(gateway)  # max_tokens=500
        call = gateway.recorder.calls[-1]
    assert error is None and text == ANSWER and call.continuations == 1
    prefill = fakes.claude.requests[1].body["messages"][-1]["content"]
    sent = prefill if isinstance(prefill, str) else prefill[-1]["text"]
    sent_tokens = -(-len(sent) // 4)  # the gateway's estimate: 4 characters a token
    assert sent_tokens >= 10
    cut = call.attempts[0]
    assert cut.usage is not None and cut.usage_estimated
    assert cut.usage.output_tokens == sent_tokens
    assert fakes.claude.requests[1].body["max_tokens"] == 500 - sent_tokens
