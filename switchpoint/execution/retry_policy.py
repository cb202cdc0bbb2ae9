"""What to do after a failed attempt: retry the same target, move on, or give up.

- 429, 5xx, 529 overloaded, connection refused or reset, a malformed answer: retry with
  backoff (within the retry budget), then the next target.
- A timeout (accepted and silent, first token too slow) or a stall: the next target at
  once; the same silent route is not retried.
- Our key refused, our quota spent, model not found, prefill rejected: the next target.
- Context length: a larger-context target, never the same model again.
- Content policy: the provider's error goes back (or the next target, if configured).
- A request this target cannot honour (an answer shape its protocol lacks): the next
  target, without calling this one; a 400 if none can.
- Any other 4xx: the provider's error goes back.
- The gateway could not open a connection (out of file descriptors or ports): a 503
  with Retry-After at once; no other target, and the breaker is not told.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from switchpoint.config.schema import FallbackConfig
from switchpoint.providers.errors import ProviderError

Step = Literal["retry", "fallback", "larger_context", "fail"]

# Failures where the same target is unlikely to do better right away: a silent or slow
# provider, our own credentials or quota. Move to the next target instead.
_FAIL_OVER_AT_ONCE = frozenset(
    {"timeout", "stalled", "auth", "quota", "unavailable", "not_found", "prefill_rejected"}
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int
    fallback_enabled: bool
    backoff_base_s: float
    backoff_max_s: float
    max_retry_after_s: float = 30.0
    content_policy_fallback: bool = False

    @classmethod
    def from_config(cls, config: FallbackConfig) -> RetryPolicy:
        return cls(
            max_retries=config.max_retries,
            fallback_enabled=config.enabled,
            backoff_base_s=config.backoff_base_s,
            backoff_max_s=config.backoff_max_s,
            max_retry_after_s=config.max_retry_after_s,
            content_policy_fallback=config.content_policy_fallback,
        )

    def next_step(self, error: ProviderError, retries_done: int) -> Step:
        kind = error.kind
        if kind in ("bad_request", "local_resources"):
            # The gateway's own exhaustion: every target needs the same descriptor, and
            # the client, told to retry after a moment, is the one to try again.
            return "fail"
        if kind == "unsupported":
            # Nothing was sent; a target further down the chain may give what was asked.
            return "fallback" if self.fallback_enabled else "fail"
        if kind == "content_policy":
            return "fallback" if self.content_policy_fallback and self.fallback_enabled else "fail"
        if kind == "context_length":
            return "larger_context"
        if error.retryable and retries_done < self.max_retries:
            if error.retry_after_s is not None and error.retry_after_s > self.max_retry_after_s:
                # The provider asks for a long pause: another target serves sooner.
                return "fallback" if self.fallback_enabled else "fail"
            return "retry"
        if kind in _FAIL_OVER_AT_ONCE or error.retryable:
            return "fallback" if self.fallback_enabled else "fail"
        return "fail"

    def backoff_s(
        self, retries_done: int, retry_after_s: float | None, rng: random.Random | None = None
    ) -> float:
        """Exponential backoff with jitter (between half and all of the exponential step);
        a provider's Retry-After is a floor, so a provider that keeps refusing is never
        hit in a tight loop."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * (2**retries_done))
        delay = (rng or random).uniform(ceiling / 2, ceiling)
        if retry_after_s is not None:
            delay = max(delay, retry_after_s)
        return delay
