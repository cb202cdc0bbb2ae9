"""The calibrator converges to the billed ratio and is hard to mislead."""

from __future__ import annotations

import math
import random

import pytest

from switchpoint.chat.request import ChatRequest
from switchpoint.tokens.calibration import Calibrator
from switchpoint.tokens.counter import TokenCounter
from switchpoint.tokens.tokenizers import CLAUDE, CLAUDE_2026, GEMINI, OTHER, tokenizer_for


def feed(cal: Calibrator, ratio: float, n: int, *, noise: float = 0.03, seed: int = 1) -> None:
    rng = random.Random(seed)
    for _ in range(n):
        predicted = rng.randrange(2_000, 200_000)
        cal.observe(
            "anthropic",
            "claude-x",
            predicted,
            round(predicted * ratio * (1 + rng.uniform(-noise, noise))),
        )


def test_converges_to_the_billed_ratio() -> None:
    cal = Calibrator()
    feed(cal, 1.31, 200)
    got = cal.get("anthropic", "claude-x")
    assert got.factor == pytest.approx(1.31, rel=0.01)
    assert got.bound is not None and 0.02 <= got.bound <= 0.1
    assert got.samples == 200


def test_no_bound_until_warmed_up_and_neutral_when_unknown() -> None:
    cal = Calibrator(min_samples=20)
    assert cal.get("openai", "nope").factor == 1.0
    feed(cal, 1.2, 5)
    early = cal.get("anthropic", "claude-x")
    assert early.bound is None and early.factor == pytest.approx(1.2, rel=0.03)


def test_small_requests_and_outliers_are_ignored() -> None:
    cal = Calibrator()
    feed(cal, 1.3, 100)
    before = cal.get("anthropic", "claude-x").factor
    assert not cal.observe("anthropic", "claude-x", 300, 30_000)  # below min_tokens
    for _ in range(5):  # a handful of wild ones (a cached prompt, a bad usage report)
        assert not cal.observe("anthropic", "claude-x", 50_000, 400_000)
    assert cal.get("anthropic", "claude-x").factor == pytest.approx(before, rel=1e-9)


def test_a_consistent_shift_is_learned_after_a_few_requests() -> None:
    """A new tokenizer: every request now bills 1.35x more than before."""
    cal = Calibrator(reset_after=8)
    feed(cal, 1.0, 100)
    feed(cal, 1.35 * 1.35, 20, seed=2)
    assert cal.get("anthropic", "claude-x").factor == pytest.approx(1.35 * 1.35, rel=0.03)


def test_factor_is_clamped() -> None:
    cal = Calibrator(max_factor=3.0)
    cal.observe("p", "m", 10_000, 10_000_000)
    assert cal.get("p", "m").factor == pytest.approx(3.0)


def test_snapshot_round_trip() -> None:
    cal = Calibrator()
    feed(cal, 1.25, 50)
    other = Calibrator()
    other.restore(cal.snapshot())
    assert other.get("anthropic", "claude-x") == cal.get("anthropic", "claude-x")


def test_counter_estimates_converge_to_billing() -> None:
    """A vendor billing 1.5x o200k: the estimate starts within its (wide) bound and,
    after calibration, lands within 1%; the vendor-ratio share of the bound is replaced
    by the calibrator's measured spread (the estimator's share stays until the BPE
    removes it)."""
    body = {"messages": [{"role": "user", "content": "Explain the retry policy in detail. " * 500}]}
    cal = Calibrator()
    counter = TokenCounter(calibrator=cal)
    o200k = (
        TokenCounter()
        .count(
            ChatRequest("openai_chat", body, stream=False),
            model="gpt-5.4",
            provider_type="openai",
            force_exact=True,
        )
        .tokens
    )
    billed = round(o200k * 1.5)
    first = counter.count(
        ChatRequest("openai_chat", body, stream=False),
        model="claude-opus-4-7",
        provider_type="anthropic",
    )
    assert first.lower <= billed <= first.upper
    for _ in range(30):
        cal.observe("anthropic", "claude-opus-4-7", first.uncalibrated, billed)
    later = counter.count(
        ChatRequest("openai_chat", body, stream=False),
        model="claude-opus-4-7",
        provider_type="anthropic",
    )
    assert abs(later.tokens - billed) / billed < 0.01
    assert later.error_bound < 0.7 * first.error_bound
    assert later.lower <= billed <= later.upper
    # A factor learned on estimates is not applied to BPE counts: those get their own.
    refined = counter.count(
        ChatRequest("openai_chat", body, stream=False),
        model="claude-opus-4-7",
        provider_type="anthropic",
        force_exact=True,
    )
    assert refined.basis == "bpe" and refined.lower <= billed <= refined.upper
    for _ in range(30):
        cal.observe("anthropic", "claude-opus-4-7", refined.uncalibrated, billed, refined.basis)
    refined = counter.count(
        ChatRequest("openai_chat", body, stream=False),
        model="claude-opus-4-7",
        provider_type="anthropic",
        force_exact=True,
    )
    assert abs(refined.tokens - billed) <= 1
    assert refined.error_bound <= 0.03 * refined.tokens
    assert refined.lower <= billed <= refined.upper


@pytest.mark.parametrize(
    "model,provider_type,expected",
    [
        ("gpt-5.5", "openai", "o200k_base"),
        ("gpt-5.4-mini", "openai", "o200k_base"),
        ("gpt-4o-2024-08-06", "openai", "o200k_base"),
        ("gpt-4.1", "openai", "o200k_base"),
        ("o3-mini", "openai", "o200k_base"),
        ("o1", "openai", "o200k_base"),
        ("gpt-oss-120b", "openai_compatible", "o200k_base"),
        ("gpt-4-0613", "openai", "cl100k_base"),
        ("gpt-4-turbo", "openai", "cl100k_base"),
        ("gpt-3.5-turbo", "openai", "cl100k_base"),
        ("some-future-model", "openai", "o200k_base"),
        ("gpt-4o", "simulated", "o200k_base"),
    ],
)
def test_openai_models_map_to_their_encoding(model: str, provider_type: str, expected: str) -> None:
    spec = tokenizer_for(model, provider_type)
    assert spec.family == "openai" and spec.exact_encoding == expected


@pytest.mark.parametrize(
    "model,provider_type,expected",
    [
        ("claude-opus-4-7", "anthropic", CLAUDE_2026),
        ("claude-opus-5", "anthropic", CLAUDE_2026),
        ("claude-sonnet-4-6", "anthropic", CLAUDE),
        ("claude-3-5-sonnet-20241022", "anthropic", CLAUDE),
        ("claude-opus-4-20250514", "anthropic", CLAUDE),
        ("claude-opus-4-7", "simulated", CLAUDE_2026),
        ("gemini-3.1-pro", "google", GEMINI),
        ("gemini-2.5-flash", "openai_compatible", GEMINI),
        ("llama-3.1-70b-instruct", "openai_compatible", OTHER),
    ],
)
def test_other_vendors_map_to_their_estimates(
    model: str, provider_type: str, expected: object
) -> None:
    assert tokenizer_for(model, provider_type) is expected


def test_vendor_ranges_are_what_the_sources_say() -> None:
    # Claude <= 4.6: the measured 1.16-1.30x is inside the band.
    assert CLAUDE.ratio - CLAUDE.ratio_uncertainty <= 1.16
    assert CLAUDE.ratio + CLAUDE.ratio_uncertainty >= 1.30
    # Opus 4.7: that times Anthropic's stated 1.0-1.35x.
    assert CLAUDE_2026.ratio - CLAUDE_2026.ratio_uncertainty <= 1.16 * 1.0
    assert CLAUDE_2026.ratio + CLAUDE_2026.ratio_uncertainty >= 1.30 * 1.35
    # Gemini: Google's rules of thumb against o200k's measured 4.76 chars, 1.22 tokens/word.
    assert GEMINI.ratio - GEMINI.ratio_uncertainty <= min(4.76 / 4, 1.25 / 1.22)
    assert GEMINI.ratio + GEMINI.ratio_uncertainty >= max(4.76 / 4, (100 / 60) / 1.22) - 0.01
    assert math.isclose(tokenizer_for("gpt-4o", "openai").ratio, 1.0)
