"""Counting before routing: which level sizes a request, and the small level's promise
(a small text body is far from every limit of every profile); a provider's quoted
numbers; calibration from billed usage."""

from __future__ import annotations

import asyncio
import random
import string
from typing import Any

import orjson
import pytest

from bench.payloads import chat_body
from switchpoint.chat.request import ChatRequest
from switchpoint.chat.usage import Usage
from switchpoint.compaction.calibration_listener import CalibrationListener
from switchpoint.compaction.measure import ContextMeter, CountedSize, SmallSize
from switchpoint.compaction.overflow import parse_overflow
from switchpoint.config import load_config
from switchpoint.execution.records import AttemptRecord, CallRecord
from switchpoint.protocols.anthropic import PROTOCOL as ANTHROPIC
from switchpoint.protocols.openai import PROTOCOL as OPENAI
from switchpoint.protocols.openai_responses import PROTOCOL as RESPONSES
from switchpoint.protocols.openai_responses.request import decode_request as decode_responses
from switchpoint.routing.registry import Registry
from switchpoint.tokens.calibration import Calibrator
from switchpoint.tokens.counter import TokenCounter
from tests.data.transcripts import generate, openai_body

CONFIG = load_config()
REGISTRY = Registry.from_config(CONFIG)
TYPES = {name: p.type for name, p in CONFIG.providers.items()}


def meter() -> ContextMeter:
    return ContextMeter(TokenCounter(), REGISTRY, TYPES)


def small_bodies() -> list[dict[str, Any]]:
    rng = random.Random(5)
    bodies = [orjson.loads(chat_body("auto", size_bytes=size)) for size in (200, 1000, 3000)]
    for seed in range(8):
        body = openai_body(generate(3_000, seed=seed, cjk_every=10_000))
        body["messages"] = body["messages"][: 2 + seed]
        bodies.append(body)
    # The worst ASCII for tokens per byte: punctuation, digits, mixed-case noise.
    for alphabet in (string.punctuation, string.digits + " ", string.ascii_letters + "+/"):
        text = "".join(rng.choice(alphabet) for _ in range(4_000))
        bodies.append({"model": "auto", "messages": [{"role": "user", "content": text}]})
    return bodies


def test_small_text_bodies_are_far_from_every_limit() -> None:
    m = meter()
    assert 3_000 < m.small_bytes < 10_000  # with the seed's profiles (Claude's ratio)
    counter = TokenCounter()
    checked = 0
    for body in small_bodies():
        raw = orjson.dumps(body)
        if len(raw) > m.small_bytes:
            body["messages"] = body["messages"][:2]
            raw = orjson.dumps(body)
            if len(raw) > m.small_bytes:
                continue
        size = m.small(body, raw)
        assert isinstance(size, SmallSize), raw[:80]
        request = ChatRequest(OPENAI, body, stream=False)
        for profile in REGISTRY.profiles.values():
            count = counter.count(
                request, model=profile.model, provider_type=TYPES[profile.provider]
            )
            # What the small level promises: every profile holds it, under the threshold.
            assert count.upper <= m.min_boundary
            assert size.fits(profile, profile.max_context)
        checked += 1
    assert checked >= 10


def test_the_small_level_s_figure_is_within_its_stated_range() -> None:
    counter = TokenCounter()
    m = meter()
    for body in small_bodies()[:11]:  # chat bodies, not the noise
        raw = orjson.dumps(body)
        if len(raw) > m.small_bytes:
            continue
        size = m.small(body, raw)
        assert size is not None
        exact = counter.count(
            ChatRequest(OPENAI, body, stream=False),
            model="gpt-5.4",
            provider_type="openai",
            force_exact=True,
        ).tokens
        assert 0.6 * exact <= size.tokens(REGISTRY.profiles["cost_sensitive"]) <= 1.6 * exact


@pytest.mark.parametrize(
    "body",
    [
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
        {"messages": [{"role": "user", "content": "prix: 5 € "}]},
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "image"}]}
                    ],
                }
            ]
        },
        {"messages": [{"role": "user", "content": "x" * 20_000}]},
        {"system": [{"type": "document"}], "messages": [{"role": "user", "content": "hi"}]},
        # OpenAI Responses bodies: an image in a message, in a function call's output.
        {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "u"}]}]},
        {
            "input": [
                {"role": "user", "content": "look"},
                {
                    "type": "function_call_output",
                    "call_id": "c",
                    "output": [{"type": "input_image"}],
                },
            ]
        },
        {"input": {"role": "user"}},
    ],
)
def test_media_non_ascii_or_large_bodies_are_counted(body: dict[str, Any]) -> None:
    assert meter().small(body, orjson.dumps(body)) is None


def test_text_tool_rounds_are_small() -> None:
    body = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "read it"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "input": {}}]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}],
            },
        ]
    }
    assert meter().small(body, orjson.dumps(body)) is not None


def as_responses(body: dict[str, Any]) -> dict[str, Any]:
    messages = body["messages"]
    return {
        "model": "auto",
        "instructions": "".join(m["content"] for m in messages if m["role"] == "system"),
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "list files"}]},
            {"type": "reasoning", "id": "rs", "summary": [], "encrypted_content": "e" * 300},
            {"type": "function_call", "call_id": "c", "name": "shell", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "a.py"},
            *(
                {"role": m["role"], "content": m["content"]}
                for m in messages
                if m["role"] in ("user", "assistant") and isinstance(m.get("content"), str)
            ),
        ],
    }


def test_small_responses_bodies_keep_the_small_level_s_promise() -> None:
    m = meter()
    counter = TokenCounter()
    checked = 0
    for chat in small_bodies():
        body = as_responses(chat)
        raw = orjson.dumps(body)
        if len(raw) > m.small_bytes:
            continue
        assert isinstance(m.small(body, raw), SmallSize), raw[:80]
        request = ChatRequest(RESPONSES, body, stream=False, decoder=decode_responses)
        for profile in REGISTRY.profiles.values():
            count = counter.count(
                request, model=profile.model, provider_type=TYPES[profile.provider]
            )
            assert count.upper <= m.min_boundary
        checked += 1
    assert checked >= 8


def test_a_large_request_near_a_limit_is_refined_for_every_profile() -> None:
    m = meter()
    body = openai_body(generate(130_000, seed=1))
    size = asyncio.run(m.measure(ChatRequest(OPENAI, body, stream=False)))
    assert isinstance(size, CountedSize) and size.ceiling > m.min_boundary
    cost_sensitive = size.count(REGISTRY.profiles["cost_sensitive"])
    # Near cost_sensitive's 128K, the count was refined with the BPE until decided.
    assert cost_sensitive.basis in ("bpe", "mixed")
    assert cost_sensitive.decides(128_000)
    assert size.tokens(REGISTRY.profiles["multi_file_refactor"]) > cost_sensitive.tokens * 1.3


def test_an_anthropic_body_is_counted_natively() -> None:
    body = {
        "model": "claude-opus-4-7",
        "max_tokens": 10,
        "system": "be brief",
        "messages": [{"role": "user", "content": "word " * 3000}],
    }
    m = meter()
    size = m.small(body, orjson.dumps(body))
    assert size is None  # 15 KB: counted
    counted = asyncio.run(m.measure(ChatRequest(ANTHROPIC, body, stream=False)))
    count = counted.count(REGISTRY.profiles["cost_sensitive"])
    # "word " is one o200k token; framing adds a few: the bound holds the truth.
    assert count.lower <= 3_000 + 10 <= count.upper
    assert counted.tokens(REGISTRY.profiles["multi_file_refactor"]) > 1.3 * count.tokens


@pytest.mark.parametrize(
    ("message", "prompt", "limit"),
    [
        (
            "This model's maximum context length is 128000 tokens. However, your messages "
            "resulted in 130512 tokens. Please reduce the length of the messages.",
            130_512,
            128_000,
        ),
        (
            "This model's maximum context length is 8192 tokens. However, you requested 9000 "
            "tokens (8000 in the messages, 1000 in the completion).",
            8_000,
            7_192,
        ),
        ("prompt is too long: 210000 tokens > 200000 maximum", 210_000, 200_000),
        (
            "input length and `max_tokens` exceed context limit: 188240 + 21333 > 200000, "
            "decrease input length or `max_tokens` and try again",
            188_240,
            178_667,
        ),
        (
            "The input token count (1048577) exceeds the maximum number of tokens allowed "
            "(1048576).",
            1_048_577,
            1_048_576,
        ),
    ],
)
def test_quoted_numbers(message: str, prompt: int, limit: int) -> None:
    overflow = parse_overflow(message)
    assert overflow is not None
    assert (overflow.prompt_tokens, overflow.prompt_limit) == (prompt, limit)


def test_unquoted_context_errors() -> None:
    assert parse_overflow("Your input exceeds the context window of this model.") is None


def call_served(provider: str, model: str, billed: int, predicted: int) -> CallRecord:
    counter = TokenCounter()
    body = {"messages": [{"role": "user", "content": "word " * predicted}]}
    count = counter.count(
        ChatRequest(OPENAI, body, stream=False),
        model=model,
        provider_type="anthropic",
        provider=provider,
    )
    call = CallRecord("r", OPENAI, False, 0.0, 0.0)
    served = AttemptRecord("p", provider, model, "first", 0.0)
    served.usage = Usage(input_tokens=billed, output_tokens=5)
    call.attempts.append(served)
    call.served = served
    call.token_count = count
    call.token_count_target = (provider, model)
    return call


def test_calibration_learns_from_billed_usage() -> None:
    calibrator = Calibrator()
    listener = CalibrationListener(calibrator)
    for _ in range(25):
        call = call_served("anthropic", "claude-opus-4-7", billed=0, predicted=3000)
        assert call.token_count is not None
        call.served.usage.input_tokens = int(call.token_count.uncalibrated * 1.1)  # type: ignore[union-attr]
        listener.on_call(call)
    learned = calibrator.get("anthropic", "claude-opus-4-7")
    assert learned.samples == 25 and abs(learned.factor - 1.1) < 0.01
    # Served by another model than the one counted (a fallback): nothing learned.
    other = call_served("anthropic", "claude-opus-4-7", billed=999_999, predicted=3000)
    other.token_count_target = ("anthropic", "claude-sonnet-4-6")
    listener.on_call(other)
    assert calibrator.get("anthropic", "claude-opus-4-7").samples == 25
    # An estimated usage (a cancelled or cut call) may be the gateway's own count.
    guessed = call_served("anthropic", "claude-opus-4-7", billed=999_999, predicted=3000)
    assert guessed.served is not None
    guessed.served.usage_estimated = True
    listener.on_call(guessed)
    assert calibrator.get("anthropic", "claude-opus-4-7").samples == 25


def test_an_openai_count_at_a_boundary_is_refined_until_decided() -> None:
    # The estimate lands right on the boundary: within the tool-call framing slack, the
    # part of the bound the BPE cannot remove. Counted, the text moves (the estimator is
    # high on agent transcripts) and the boundary is decided.
    body = openai_body(generate(60_000, seed=6))
    counter = TokenCounter()
    request = ChatRequest(OPENAI, body, stream=False)
    estimate = counter.count(request, model="gpt-5.4", provider_type="openai")
    refined = counter.count(
        request, model="gpt-5.4", provider_type="openai", boundaries=(estimate.tokens,)
    )
    assert refined.basis != "estimate"
    assert refined.decides(estimate.tokens)
