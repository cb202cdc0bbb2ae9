"""The executor: a decision's chain of targets, tried in order, with retries.

For each target in the decision's chain: skip it if its breaker is open; send the
attempt; on failure ask the retry policy whether to retry the same target (after a
backoff), move to the next target, move to a larger-context one, or give up. Every
attempt is recorded on the call and announced on the event bus as it ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from switchpoint.chat.request import ChatRequest
from switchpoint.chat.response import ChatResponse
from switchpoint.config.schema import Config
from switchpoint.errors import GatewayError
from switchpoint.events import EventBus
from switchpoint.execution.breaker import CircuitBreakers
from switchpoint.execution.failures import exhausted_error, gateway_error_for
from switchpoint.execution.records import AttemptRecord, CallRecord
from switchpoint.execution.retry_policy import RetryPolicy
from switchpoint.execution.targets import Target
from switchpoint.pricing import PriceTable
from switchpoint.providers.base import ProviderAdapter
from switchpoint.providers.errors import ProviderError
from switchpoint.providers.limits import AttemptLimits
from switchpoint.routing.registry import Registry

log = logging.getLogger("switchpoint.execution")

T = TypeVar("T")
AttemptFn = Callable[[Target, AttemptRecord, AttemptLimits], Awaitable[T]]


class Executor:
    def __init__(
        self,
        config: Config,
        registry: Registry,
        adapters: dict[str, ProviderAdapter],
        bus: EventBus,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.adapters = adapters
        self.bus = bus
        self.prices = PriceTable(dict(config.models))
        fallback = config.routing.fallback
        self.policy = RetryPolicy(
            max_retries=fallback.max_retries,
            fallback_enabled=fallback.enabled,
            backoff_base_s=fallback.backoff_base_s,
            backoff_max_s=fallback.backoff_max_s,
        )
        self.deadline_s = fallback.request_deadline_s
        # perf_counter, not loop.time(): uvloop's clock ticks in whole milliseconds.
        self._clock = clock or time.perf_counter
        self.breakers = CircuitBreakers(fallback, self._clock, self._on_breaker)

    def _on_breaker(self, key: tuple[str, str], old: str, new: str, reason: str) -> None:
        log.warning("circuit breaker %s/%s: %s -> %s (%s)", key[0], key[1], old, new, reason)
        self.bus.breaker(key[0], key[1], old, new, reason)

    # --- planning -------------------------------------------------------------------
    def targets(self, call: CallRecord) -> list[Target]:
        assert call.decision is not None
        chain = call.decision.chain
        if not self.config.routing.fallback.enabled:
            chain = chain[:1]
        profiles = self.registry.profiles
        return [Target(profiles[name], self.adapters[profiles[name].provider]) for name in chain]

    def limits_for(self, target: Target, call_deadline: float) -> AttemptLimits:
        provider = target.adapter.config
        now = self._clock()
        return AttemptLimits(
            connect_s=provider.connect_timeout_s,
            first_token_s=provider.first_token_timeout_s,
            idle_s=provider.stream_idle_timeout_s,
            deadline=min(call_deadline, now + provider.timeout_s),
        )

    def call_deadline(self, call: CallRecord) -> float:
        return call.started_at + self.deadline_s

    def larger_context_index(self, targets: list[Target], current: int) -> int | None:
        size = targets[current].profile.max_context
        for index in range(current + 1, len(targets)):
            if targets[index].profile.max_context > size:
                return index
        return None

    # --- bookkeeping ----------------------------------------------------------------
    def begin_attempt(self, call: CallRecord, target: Target, reason: str) -> AttemptRecord:
        attempt = AttemptRecord(
            profile=target.profile.name,
            provider=target.provider,
            model=target.model,
            reason=reason,
            started_at=self._clock(),
        )
        call.attempts.append(attempt)
        return attempt

    def end_attempt(
        self,
        call: CallRecord,
        target: Target,
        attempt: AttemptRecord,
        error: ProviderError | None = None,
        *,
        outcome: str | None = None,
    ) -> None:
        attempt.duration_s = self._clock() - attempt.started_at
        if error is not None:
            attempt.outcome = error.kind
            attempt.status = error.status
            attempt.error = error.message
        elif outcome is not None:
            attempt.outcome = outcome
        if attempt.usage is not None:
            attempt.cost_usd = self.prices.cost_usd(target.model, attempt.usage)
        latency = attempt.ttft_s if attempt.ttft_s is not None else attempt.duration_s
        self.breakers.record(target.key, attempt.outcome, latency)
        self.bus.attempt(call, attempt)

    def skip_open(self, call: CallRecord, target: Target) -> None:
        attempt = self.begin_attempt(call, target, "skipped")
        attempt.outcome = "skipped_open"
        call.fallback_reasons.append("breaker_open")
        self.bus.attempt(call, attempt)

    # --- the attempt loop -----------------------------------------------------------
    async def run_attempts(
        self, call: CallRecord, attempt_fn: AttemptFn[T]
    ) -> tuple[T, Target, AttemptRecord]:
        """Try the call's targets in order until `attempt_fn` succeeds on one.

        `attempt_fn` raises `ProviderError` on failure. On success the attempt is left
        open (the caller ends it: a stream is not over when its first event arrives).
        """
        targets = self.targets(call)
        call_deadline = self.call_deadline(call)
        last_error: ProviderError | None = None
        index = 0
        reason = "first"
        while index < len(targets):
            target = targets[index]
            if not self.breakers.allow(target.key):
                self.skip_open(call, target)
                index += 1
                reason = "fallback"
                continue
            retries = 0
            while True:
                if self._clock() >= call_deadline:
                    raise deadline_error(self.deadline_s)
                attempt = self.begin_attempt(call, target, reason)
                limits = self.limits_for(target, call_deadline)
                try:
                    result = await attempt_fn(target, attempt, limits)
                except ProviderError as error:
                    self.end_attempt(call, target, attempt, error)
                    last_error = error
                    step = self.policy.next_step(error, retries)
                    if step == "retry":
                        delay = self.policy.backoff_s(retries, error.retry_after_s)
                        if self._clock() + delay < call_deadline:
                            retries += 1
                            reason = "retry"
                            await asyncio.sleep(delay)
                            continue
                        step = "fallback"
                    if step == "fail":
                        raise gateway_error_for(error, target) from None
                    if step == "larger_context":
                        bigger = self.larger_context_index(targets, index)
                        if bigger is None:
                            raise gateway_error_for(error, target) from None
                        call.fallback_reasons.append("context_length")
                        index = bigger
                    else:
                        call.fallback_reasons.append(error.kind)
                        index += 1
                    reason = "fallback"
                    break
                except BaseException:
                    self.end_attempt(call, target, attempt, outcome="cancelled")
                    raise
                return result, target, attempt
        raise exhausted_error(last_error, call)

    # --- non-streamed calls -----------------------------------------------------------
    async def complete(self, call: CallRecord, request: ChatRequest) -> ChatResponse:
        async def attempt_fn(
            target: Target, attempt: AttemptRecord, limits: AttemptLimits
        ) -> ChatResponse:
            return await target.adapter.complete(request, target.model, limits)

        response, target, attempt = await self.run_attempts(call, attempt_fn)
        attempt.usage = response.usage
        self.end_attempt(call, target, attempt)
        call.served = attempt
        return response


def deadline_error(deadline_s: float) -> GatewayError:
    return GatewayError(
        "timeout", f"the request did not complete within its {deadline_s:g}s deadline"
    )
