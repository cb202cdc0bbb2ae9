"""What to do after a failed attempt: retry the same target, move on, or give up."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from switchpoint.providers.errors import ProviderError

Step = Literal["retry", "fallback", "larger_context", "fail"]

# Failures where the same target is unlikely to do better right away: a silent or slow
# provider, our own credentials or quota. Move to the next target instead.
_FAIL_OVER_AT_ONCE = frozenset(
    {"timeout", "stalled", "auth", "quota", "unavailable", "not_found", "prefill_rejected"}
)
# The client's own request is at fault (or the provider refused it on policy grounds):
# another target would answer the same, so the error goes back to the client.
_CLIENT_FAULT = frozenset({"bad_request", "content_policy"})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int
    fallback_enabled: bool
    backoff_base_s: float
    backoff_max_s: float

    def next_step(self, error: ProviderError, retries_done: int) -> Step:
        kind = error.kind
        if kind in _CLIENT_FAULT:
            return "fail"
        if kind == "context_length":
            return "larger_context"
        if error.retryable and retries_done < self.max_retries:
            return "retry"
        if kind in _FAIL_OVER_AT_ONCE or error.retryable:
            return "fallback" if self.fallback_enabled else "fail"
        return "fail"

    def backoff_s(
        self, retries_done: int, retry_after_s: float | None, rng: random.Random | None = None
    ) -> float:
        """Exponential backoff with full jitter; a provider's Retry-After is a floor,
        so a provider that keeps refusing is never hit in a tight loop."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * (2**retries_done))
        delay = (rng or random).uniform(ceiling / 2, ceiling)
        if retry_after_s is not None:
            delay = max(delay, retry_after_s)
        return delay
