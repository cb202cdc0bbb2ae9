"""TokenCounter: the BPE runs only near a boundary, and resent history is not recounted."""

from __future__ import annotations

import asyncio
import copy
import threading
from typing import Any

import orjson
import pytest

from switchpoint.chat.request import ChatRequest
from switchpoint.tokens import bpe
from switchpoint.tokens.calibration import Calibrator
from switchpoint.tokens.counter import TokenCounter
from tests.conftest import transcript
from tests.data.transcripts import anthropic_body, conversation, openai_body


class BpeSpy:
    """Counts, and checks, every text the BPE is asked to count."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.texts: list[str] = []
        self.threads: set[int] = set()
        real = bpe.count

        def spy(name: bpe.EncodingName, text: str) -> int:
            self.texts.append(text)
            self.threads.add(threading.get_ident())
            return real(name, text)

        monkeypatch.setattr(bpe, "count", spy)

    @property
    def chars(self) -> int:
        return sum(map(len, self.texts))


def request_of(body: dict[str, Any], protocol: str = "openai_chat") -> ChatRequest:
    # A fresh parse, as ingress would produce: no shared string objects between requests.
    return ChatRequest(protocol, orjson.loads(orjson.dumps(body)), stream=False)


@pytest.fixture(scope="module")
def body() -> dict[str, Any]:
    return openai_body(transcript(120_000, 4))


@pytest.fixture(scope="module")
def truth(body: dict[str, Any]) -> int:
    return (
        TokenCounter()
        .count(request_of(body), model="gpt-5.4", provider_type="openai", force_exact=True)
        .tokens
    )


def test_no_boundary_no_bpe(
    monkeypatch: pytest.MonkeyPatch, body: dict[str, Any], truth: int
) -> None:
    spy = BpeSpy(monkeypatch)
    count = TokenCounter().count(request_of(body), model="gpt-5.4", provider_type="openai")
    assert spy.texts == []
    assert not count.exact
    assert count.lower <= truth <= count.upper


def test_far_boundaries_need_no_bpe(monkeypatch: pytest.MonkeyPatch, body: dict[str, Any]) -> None:
    spy = BpeSpy(monkeypatch)
    count = TokenCounter().count(
        request_of(body),
        model="gpt-5.4",
        provider_type="openai",
        boundaries=(600_000, 1_000_000, 8_000),
    )
    assert spy.texts == []
    assert all(count.decides(b) for b in (600_000, 1_000_000, 8_000))


def test_a_near_boundary_is_decided_with_partial_bpe(
    monkeypatch: pytest.MonkeyPatch, body: dict[str, Any], truth: int
) -> None:
    estimate = TokenCounter().count(request_of(body), model="gpt-5.4", provider_type="openai")
    # A boundary inside the estimate's band, but not right at the true count.
    boundary = truth + estimate.error_bound // 2
    assert not estimate.decides(boundary)
    spy = BpeSpy(monkeypatch)
    count = TokenCounter().count(
        request_of(body), model="gpt-5.4", provider_type="openai", boundaries=(boundary,)
    )
    assert count.decides(boundary)
    assert count.lower <= truth <= count.upper
    total_chars = sum(len(m.get("content") or "") for m in body["messages"])
    assert 0 < spy.chars < total_chars  # counted some texts exactly, largest first, not all
    assert len(spy.texts[0]) >= max(len(t) for t in spy.texts)


def test_a_boundary_at_the_true_count_forces_an_exact_count(
    monkeypatch: pytest.MonkeyPatch, body: dict[str, Any], truth: int
) -> None:
    count = TokenCounter().count(
        request_of(body), model="gpt-5.4", provider_type="openai", boundaries=(truth,)
    )
    assert count.exact and count.tokens == truth
    # What remains is the assumed framing of tool calls and results, stated in the bound.
    assert 0 < count.error_bound < 0.02 * truth


def test_resent_history_counts_only_the_new_messages(
    monkeypatch: pytest.MonkeyPatch, body: dict[str, Any], truth: int
) -> None:
    counter = TokenCounter()
    first = counter.count(
        request_of(body), model="gpt-5.4", provider_type="openai", force_exact=True
    )
    assert first.tokens == truth
    longer = copy.deepcopy(body)
    longer["messages"] += [
        {"role": "assistant", "content": "The retry loop never resets its backoff."},
        {"role": "user", "content": "Fix it, and add a test that fails without the fix."},
    ]
    spy = BpeSpy(monkeypatch)
    hits_before = counter.cache.hits
    second = counter.count(
        request_of(longer), model="gpt-5.4", provider_type="openai", force_exact=True
    )
    assert sorted(spy.texts) == sorted(
        [
            "The retry loop never resets its backoff.",
            "Fix it, and add a test that fails without the fix.",
        ]
    )
    assert counter.cache.hits - hits_before > 100
    assert second.exact and second.tokens > first.tokens


def test_the_estimate_of_resent_history_is_cached_too(body: dict[str, Any]) -> None:
    counter = TokenCounter()
    counter.count(request_of(body), model="gpt-5.4", provider_type="openai")
    misses = counter.cache.misses
    counter.count(request_of(body), model="gpt-5.4", provider_type="openai")
    assert counter.cache.misses == misses
    assert len(counter.cache) > 0


def test_vendor_estimates_skip_the_bpe_when_the_ratio_alone_straddles(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = anthropic_body(transcript(120_000, 4))
    counter = TokenCounter()
    estimate = counter.count(
        request_of(body, "anthropic_messages"), model="claude-opus-4-7", provider_type="anthropic"
    )
    spy = BpeSpy(monkeypatch)
    # Right at the estimate: the +-0.30 ratio uncertainty alone spans it.
    count = counter.count(
        request_of(body, "anthropic_messages"),
        model="claude-opus-4-7",
        provider_type="anthropic",
        boundaries=(estimate.tokens,),
    )
    assert spy.texts == [] and not count.exact


def test_vendor_estimates_refine_the_o200k_part_when_that_decides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = anthropic_body(transcript(120_000, 4))
    calibrator = Calibrator(min_samples=3, alpha=0.5)
    counter = TokenCounter(calibrator=calibrator)
    first = counter.count(
        request_of(body, "anthropic_messages"), model="claude-sonnet-4-5", provider_type="anthropic"
    )
    for _ in range(5):  # billing says: exactly our raw prediction, every time
        calibrator.observe("anthropic", "claude-sonnet-4-5", first.uncalibrated, first.uncalibrated)
    calibrated = counter.count(
        request_of(body, "anthropic_messages"), model="claude-sonnet-4-5", provider_type="anthropic"
    )
    boundary = calibrated.tokens + calibrated.error_bound // 2
    spy = BpeSpy(monkeypatch)
    count = counter.count(
        request_of(body, "anthropic_messages"),
        model="claude-sonnet-4-5",
        provider_type="anthropic",
        boundaries=(boundary,),
    )
    assert spy.texts and count.decides(boundary) and not count.exact


def test_conversation_and_wire_counts_agree() -> None:
    t = transcript(20_000, 9)
    counter = TokenCounter()
    wire = counter.count(
        request_of(openai_body(t)), model="gpt-5.4", provider_type="openai", force_exact=True
    )
    internal = counter.count_conversation(
        conversation(t), model="gpt-5.4", provider_type="openai", force_exact=True
    )
    # The conversation groups an assistant turn's tool results in one message: fewer
    # message framings, nothing else differs.
    assert 0 <= wire.tokens - internal.tokens <= 4 * len(t.turns)


def test_count_async_refines_in_a_worker_thread(
    monkeypatch: pytest.MonkeyPatch, body: dict[str, Any], truth: int
) -> None:
    spy = BpeSpy(monkeypatch)
    count = asyncio.run(
        TokenCounter().count_async(
            request_of(body), model="gpt-5.4", provider_type="openai", boundaries=(truth,)
        )
    )
    assert count.exact and count.tokens == truth
    assert threading.get_ident() not in spy.threads


def test_count_async_without_need_does_no_bpe(
    monkeypatch: pytest.MonkeyPatch, body: dict[str, Any]
) -> None:
    spy = BpeSpy(monkeypatch)
    count = asyncio.run(
        TokenCounter().count_async(
            request_of(body), model="gpt-5.4", provider_type="openai", boundaries=(10_000_000,)
        )
    )
    assert spy.texts == [] and count.decides(10_000_000)


def test_cl100k_models_get_a_wider_band_for_non_ascii() -> None:
    counter = TokenCounter()
    ascii_body = {"messages": [{"role": "user", "content": "plain words " * 400}]}
    greek_body = {"messages": [{"role": "user", "content": "Ελληνικά κείμενα " * 400}]}
    for body in (ascii_body, greek_body):
        est = counter.count(request_of(body), model="gpt-4", provider_type="openai")
        exact = counter.count(
            request_of(body), model="gpt-4", provider_type="openai", force_exact=True
        )
        assert est.lower <= exact.tokens <= est.upper
    wide = counter.count(request_of(greek_body), model="gpt-4", provider_type="openai")
    narrow = counter.count(request_of(greek_body), model="gpt-4o", provider_type="openai")
    assert wide.error_bound > 2 * narrow.error_bound


def test_a_prepared_request_is_scanned_once_and_counted_for_every_candidate(
    monkeypatch: pytest.MonkeyPatch, body: dict[str, Any]
) -> None:
    counter = TokenCounter()
    candidates = [
        ("gpt-5.5", "openai"),
        ("claude-opus-4-7", "anthropic"),
        ("gemini-3.1-pro", "google"),
        ("gpt-4", "openai"),
    ]
    separately = [counter.count(request_of(body), model=m, provider_type=p) for m, p in candidates]
    scans: list[int] = []
    real_scan = counter._scan

    def spy(texts: list[str]) -> tuple[int, bool]:
        scans.append(len(texts))
        return real_scan(texts)

    monkeypatch.setattr(counter, "_scan", spy)
    prepared = counter.prepare(request_of(body))
    together = [prepared.count(model=m, provider_type=p) for m, p in candidates]
    assert together == separately
    # One scan of the messages, then one of the tool texts per encoding (o200k, cl100k).
    assert len(scans) == 3
