"""The retry policy: which failures are retried, failed over, or passed back."""

from __future__ import annotations

import random

import pytest

from switchpoint.execution.retry_policy import RetryPolicy
from switchpoint.providers.errors import FailureKind, ProviderError

POLICY = RetryPolicy(max_retries=2, fallback_enabled=True, backoff_base_s=0.5, backoff_max_s=4)


@pytest.mark.parametrize(
    ("kind", "step"),
    [
        ("rate_limited", "retry"),
        ("overloaded", "retry"),
        ("server_error", "retry"),
        ("connect", "retry"),
        ("dropped", "retry"),
        ("invalid_response", "retry"),
        ("timeout", "fallback"),
        ("stalled", "fallback"),
        ("auth", "fallback"),
        ("quota", "fallback"),
        ("prefill_rejected", "fallback"),
        ("context_length", "larger_context"),
        ("content_policy", "fail"),
        ("bad_request", "fail"),
        ("unsupported", "fallback"),
        # The gateway out of descriptors: every target would need one too.
        ("local_resources", "fail"),
    ],
)
def test_steps_by_failure(kind: FailureKind, step: str) -> None:
    assert POLICY.next_step(ProviderError(kind, "x"), 0) == step


def test_retries_run_out_then_fail_over() -> None:
    error = ProviderError("server_error", "x")
    assert POLICY.next_step(error, 1) == "retry"
    assert POLICY.next_step(error, 2) == "fallback"


def test_without_fallback_a_retryable_failure_fails_after_its_retries() -> None:
    policy = RetryPolicy(max_retries=1, fallback_enabled=False, backoff_base_s=0, backoff_max_s=0)
    assert policy.next_step(ProviderError("overloaded", "x"), 1) == "fail"


def test_without_fallback_an_unsupported_request_fails_at_once() -> None:
    policy = RetryPolicy(max_retries=2, fallback_enabled=False, backoff_base_s=0, backoff_max_s=0)
    assert policy.next_step(ProviderError("unsupported", "x"), 0) == "fail"


def test_a_long_retry_after_fails_over() -> None:
    error = ProviderError("rate_limited", "x", retry_after_s=60)
    assert POLICY.next_step(error, 0) == "fallback"


def test_backoff_is_exponential_jittered_and_capped() -> None:
    rng = random.Random(1)
    for retries, (low, high) in enumerate([(0.25, 0.5), (0.5, 1.0), (1.0, 2.0), (2.0, 4.0)]):
        delays = [POLICY.backoff_s(retries, None, rng) for _ in range(200)]
        assert low <= min(delays) and max(delays) <= high
        assert max(delays) - min(delays) > (high - low) / 2  # actually jittered
    assert POLICY.backoff_s(10, None, rng) <= 4.0


def test_retry_after_is_a_floor() -> None:
    assert POLICY.backoff_s(0, 3.0) >= 3.0
