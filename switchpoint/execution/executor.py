"""The executor: a decision's chain of targets, tried in order, with retries.

For each target in the decision's chain: skip it if its breaker is open; send the
attempt; on failure ask the retry policy whether to retry the same target (after a
backoff, within the retry budget and the call's deadline, and only while its breaker
still allows it), move to the next target, move to a larger-context one, or give up.
Every attempt is recorded on the call and announced on the event bus as it ends.

Time: the call's deadline (`request_deadline_s` from its arrival) bounds everything;
each attempt's limits are fixed when it starts and never reach past that deadline. The
checks are comparisons against `perf_counter()`, not timers or tasks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from switchpoint.chat.request import ChatRequest
from switchpoint.chat.response import ChatResponse
from switchpoint.chat.usage import Usage
from switchpoint.config.schema import BreakerStoreConfig, Config
from switchpoint.errors import GatewayError
from switchpoint.events import EventBus
from switchpoint.execution.breaker import BreakerStore, CircuitBreakers, Key
from switchpoint.execution.client_prefill import prefill_join, strip_repeated_prefill
from switchpoint.execution.failures import all_open_error, exhausted_error, gateway_error_for
from switchpoint.execution.prefill import PrefillSupport
from switchpoint.execution.records import SKIPPED_OPEN, SUMMARIZE, AttemptRecord, CallRecord
from switchpoint.execution.retry_policy import RetryPolicy
from switchpoint.execution.targets import Target
from switchpoint.pricing import PriceTable
from switchpoint.providers.base import ProviderAdapter
from switchpoint.providers.errors import ProviderError
from switchpoint.providers.limits import AttemptLimits
from switchpoint.routing.registry import Registry
from switchpoint.routing.rules import budget_fallback

log = logging.getLogger("switchpoint.execution")
# Failures after which the vendor has most likely read (and bills) the prompt though no
# usage came back: no answer in time, or a stream that broke off. Not a vendor's error
# answer (4xx, 5xx: not billed), nor `dropped`, most often a pooled connection the
# vendor had already closed, whose request it never read.
_PROMPT_READ = frozenset({"timeout", "stalled", "truncated"})

# Failures that say this target cannot serve the request, and another may.
_ANOTHER_TARGET_CAN = frozenset({"context_length", "unsupported"})

# An attempt left less than this of the call's deadline cannot complete (a connection on
# loopback takes about that much): the deadline has in effect passed. Started anyway, it
# fails as a connect timeout and hides that the call's deadline is the cause.
MIN_ATTEMPT_S = 0.01


T = TypeVar("T")
AttemptFn = Callable[[Target, AttemptRecord, AttemptLimits], Awaitable[T]]
# Called once per run when a provider says the request exceeds its model's context
# (`summarization_strategy: hierarchical`): True when the request was replaced by a
# summarized one, to be retried on the same target.
ContextRecovery = Callable[[Target, ProviderError], Awaitable[bool]]
# Given the request that failed; returns its summarized replacement, or None.
RequestRecovery = Callable[[Target, ChatRequest, ProviderError], Awaitable[ChatRequest | None]]


def build_breaker_store(config: BreakerStoreConfig) -> BreakerStore:
    if config.type == "redis":
        from switchpoint.execution.redis_breaker_store import RedisBreakerStore

        return RedisBreakerStore(config)
    return BreakerStore()


class Executor:
    def __init__(
        self,
        config: Config,
        registry: Registry,
        adapters: dict[str, ProviderAdapter],
        bus: EventBus,
        *,
        clock: Callable[[], float] | None = None,
        breaker_store: BreakerStore | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.adapters = adapters
        self.bus = bus
        self.prices = PriceTable(dict(config.models))
        fallback = config.routing.fallback
        self.policy = RetryPolicy.from_config(fallback)
        self.deadline_s = fallback.request_deadline_s
        self.max_continuations = fallback.max_continuations if fallback.enabled else 0
        # perf_counter, not loop.time(): uvloop's clock ticks in whole milliseconds.
        self._clock = clock or time.perf_counter
        store = breaker_store or build_breaker_store(fallback.circuit_breaker.store)
        self.breakers = CircuitBreakers(fallback, self._clock, self._on_breaker, store)
        self.prefill = PrefillSupport(config)
        self._store_started = False

    def _on_breaker(self, key: Key, old: str, new: str, reason: str) -> None:
        log.warning("circuit breaker %s/%s: %s -> %s (%s)", key[0], key[1], old, new, reason)
        self.bus.breaker(key[0], key[1], old, new, reason)

    def start(self) -> None:
        """Start background work (a shared breaker store's sync); needs a running loop.
        Called on the first call at the latest."""
        if not self._store_started:
            self._store_started = True
            self.breakers.store.start(self.breakers)

    async def aclose(self) -> None:
        await self.breakers.store.aclose()

    # --- planning -------------------------------------------------------------------
    def targets(self, call: CallRecord) -> list[Target]:
        assert call.decision is not None
        chain = call.decision.chain
        if not self.config.routing.fallback.enabled:
            chain = chain[:1]
        profiles = self.registry.profiles
        return [self.target(name) for name in chain if name in profiles]

    def target(self, profile_name: str) -> Target:
        profile = self.registry.profiles[profile_name]
        return Target(profile, self.adapters[profile.provider])

    def limits_for(self, target: Target, call_deadline: float) -> AttemptLimits:
        provider = target.adapter.config
        now = self._clock()
        return AttemptLimits(
            connect_s=provider.connect_timeout_s,
            first_token_s=provider.first_token_timeout_s,
            idle_s=provider.stream_idle_timeout_s,
            deadline=min(call_deadline, now + provider.timeout_s),
            started_at=now,
        )

    def call_deadline(self, call: CallRecord) -> float:
        return call.started_at + self.deadline_s

    def larger_context(
        self, targets: list[Target], current: int, *, budget_bound: bool = False
    ) -> int | None:
        """The index of a target with a larger context than `targets[current]` (whose
        provider said the request is too long): later in the chain first, else the
        registry's long-context profile, else its largest; appended to `targets`. A call
        moved for its budget (`budget_bound`) is kept to profiles within it, as its chain
        is: never sent back to the expensive profile it left."""
        failed = targets[current]
        size = failed.profile.max_context
        for index in range(current + 1, len(targets)):
            candidate = targets[index]
            if candidate.profile.max_context > size and candidate.model != failed.model:
                return index
        if not self.config.routing.fallback.enabled:
            return None
        profiles = self.registry.profiles
        tried = {t.profile.name for t in targets}
        candidates = [
            p
            for p in profiles.values()
            if p.available
            and p.max_context > size
            and p.model != failed.model
            and p.name not in tried
            and (not budget_bound or budget_fallback.affordable(self.registry, p))
        ]
        if not candidates:
            return None
        preferred = self.registry.long_context_profile
        chosen = next((p for p in candidates if p.name == preferred), None)
        if chosen is None:
            chosen = max(candidates, key=lambda p: (p.max_context, p.name))
        targets.append(self.target(chosen.name))
        return len(targets) - 1

    # --- bookkeeping ----------------------------------------------------------------
    def begin_attempt(
        self, call: CallRecord, target: Target, reason: str, cause: str | None = None
    ) -> AttemptRecord:
        attempt = AttemptRecord(
            profile=target.profile.name,
            provider=target.provider,
            model=target.model,
            reason=reason,
            started_at=self._clock(),
            cause=cause,
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
        limits: AttemptLimits | None = None,
        prompt_tokens: int | None = None,
    ) -> None:
        """`prompt_tokens`: the size of the prompt the attempt sent, when it is not the
        call's conversation (a summarizer's prompt)."""
        attempt.duration_s = self._clock() - attempt.started_at
        if error is not None:
            attempt.outcome = error.kind
            attempt.status = error.status
            attempt.error = error.message
            if error.kind == "prefill_rejected" and self.prefill.rejected(*target.key):
                log.info(
                    "%s/%s rejects assistant prefill: not asked to continue streams again",
                    target.provider,
                    target.model,
                )
                self.bus.resilience("prefill_unsupported", target.provider, target.model)
            if error.kind in _PROMPT_READ and attempt.usage is None and limits is not None:
                self._estimate_prompt_read(call, attempt, limits, prompt_tokens)
        elif outcome is not None:
            attempt.outcome = outcome
            if outcome == "cancelled" and attempt.usage is None and limits is not None:
                self._estimate_prompt_read(call, attempt, limits, prompt_tokens)
        if limits is not None:
            stats = limits.stats
            if stats.output_capped is not None:
                attempt.output_capped = stats.output_capped
            if stats.dropped_params:
                attempt.dropped_params = stats.dropped_params
                self.bus.resilience(
                    "sampling_dropped",
                    target.provider,
                    target.model,
                    ",".join(stats.dropped_params),
                )
            if stats.malformed_events:
                attempt.malformed_events = stats.malformed_events
                self.bus.resilience(
                    "malformed_events",
                    target.provider,
                    target.model,
                    count=stats.malformed_events,
                )
        if attempt.usage is not None:
            attempt.cost_usd = self.prices.cost_usd(target.model, attempt.usage)
        latency = attempt.ttft_s if attempt.ttft_s is not None else attempt.duration_s
        self.breakers.record(target.key, attempt.outcome, latency, attempt.started_at)
        self.bus.attempt(call, attempt)

    @staticmethod
    def _estimate_prompt_read(
        call: CallRecord,
        attempt: AttemptRecord,
        limits: AttemptLimits,
        prompt_tokens: int | None,
    ) -> None:
        """An attempt that ended after its request reached the vendor and before any usage
        report (the client left, the gateway stopped, the vendor was too slow or the
        connection broke): the vendor bills the prompt it read all the same, so the prompt
        as the gateway counted it is recorded, flagged as an estimate. Output it may have
        generated is unknown and not guessed; a stream's relayed text is estimated by the
        stream itself, before this. The prompt is what was sent: the summarized
        conversation once one replaced the client's, a summarizer's own prompt for its
        calls, never the client's whole conversation in their place."""
        tokens = call.context_tokens_after if prompt_tokens is None else prompt_tokens
        if limits.stats.request_sent and tokens:
            attempt.usage = Usage(input_tokens=tokens)
            attempt.usage_estimated = True

    def skip_open(
        self, call: CallRecord, target: Target, reason: str, cause: str | None, *, moves_on: bool
    ) -> None:
        """Record `target` as skipped for its open breaker. The skip keeps the reason the
        target was entered for ("first" when it heads the chain), so that the one move
        past it counts as one fallback, made by the next target's attempt; `moves_on`:
        there is a next target (else no move, and no reason for one)."""
        attempt = self.begin_attempt(call, target, reason, cause)
        attempt.outcome = SKIPPED_OPEN
        if moves_on:
            if reason != SUMMARIZE:
                call.fallback_reasons.append("breaker_open")
            self.bus.resilience("fallback", target.provider, target.model, "breaker_open")
        self.bus.attempt(call, attempt)

    # --- the attempt loop -----------------------------------------------------------
    async def run_attempts(
        self,
        call: CallRecord,
        attempt_fn: AttemptFn[T],
        *,
        targets: list[Target] | None = None,
        reason: str = "first",
        recover: ContextRecovery | None = None,
        restore: Callable[[], None] | None = None,
        prompt_tokens: int | None = None,
    ) -> tuple[T, Target, AttemptRecord, AttemptLimits]:
        """Try `targets` (default: the call's chain) in order until `attempt_fn`
        succeeds on one.

        `attempt_fn` raises `ProviderError` on failure. On success the attempt is left
        open (the caller ends it: a stream is not over when its first event arrives).

        A context-length error is handled by the call's summarization strategy, once:
        `recover` (hierarchical) may replace the request, which is then retried on the
        same target; otherwise, or if that fails, a larger-context target is tried
        (`none`: `restore` puts the original request back for it, as the summary did not
        fit after all), or the error is returned (`reject`). With `reason="summarize"` (the
        summarizer's own calls) every attempt keeps that reason, and moves between its
        targets are not the call's fallbacks. `prompt_tokens` is the size of what
        `attempt_fn` sends when it is not the call's conversation (see `end_attempt`).
        """
        summarizing = reason == SUMMARIZE
        recovered = False
        replaced = False  # `recover` replaced the request with a summarized one
        if not self._store_started:
            self.start()
        if targets is None:
            targets = self.targets(call)
        call_deadline = self.call_deadline(call)
        last_error: ProviderError | None = None
        # Targets skipped for their open breaker since the last failure.
        skipped_open: list[Target] = []
        # After a context-length error, no target this small (or that model) again.
        too_small = 0
        index = 0
        cause: str | None = None
        while index < len(targets):
            target = targets[index]
            if target.profile.max_context <= too_small:
                index += 1
                continue
            if not self.breakers.allow(target.key):
                self.skip_open(call, target, reason, cause, moves_on=index + 1 < len(targets))
                skipped_open.append(target)
                index += 1
                reason = SUMMARIZE if summarizing else "fallback"
                continue
            retries = 0
            while True:
                if self._clock() >= call_deadline - MIN_ATTEMPT_S:
                    self.breakers.release(target.key)
                    raise self.deadline_exceeded(call, target)
                attempt = self.begin_attempt(call, target, reason, cause)
                limits = self.limits_for(target, call_deadline)
                try:
                    result = await attempt_fn(target, attempt, limits)
                except ProviderError as error:
                    self.end_attempt(
                        call, target, attempt, error, limits=limits, prompt_tokens=prompt_tokens
                    )
                    last_error = error
                    skipped_open = []
                    cause = error.kind
                    step = self.policy.next_step(error, retries)
                    if step == "retry" and await self._backoff(
                        target, error, retries, call_deadline
                    ):
                        retries += 1
                        reason = SUMMARIZE if summarizing else "retry"
                        self.bus.resilience("retry", target.provider, target.model, error.kind)
                        continue
                    if step == "larger_context" and not summarizing:
                        decision = call.decision
                        if decision is not None and decision.context_strategy == "reject":
                            step = "fail"
                        elif recover is not None and not recovered:
                            recovered = True
                            if await recover(target, error):
                                replaced = True
                                reason = "retry"
                                self.bus.resilience(
                                    "retry", target.provider, target.model, error.kind
                                )
                                continue
                    if step == "fail":
                        raise gateway_error_for(error, target, call.context_tokens) from None
                    if step == "larger_context":
                        bigger = self.larger_context(
                            targets,
                            index,
                            budget_bound=call.decision is not None and call.decision.budget_bound,
                        )
                        if bigger is None:
                            raise gateway_error_for(error, target, call.context_tokens) from None
                        too_small = max(too_small, target.profile.max_context)
                        index = bigger
                        if replaced and restore is not None:
                            restore()
                            replaced = False
                            if call.summarization is not None:
                                call.summarization.dispatched = False
                    else:
                        index += 1
                    if index < len(targets):
                        # A move to a next target: the last one's failure is none.
                        if not summarizing:
                            call.fallback_reasons.append(error.kind)
                        self.bus.resilience("fallback", target.provider, target.model, error.kind)
                    reason = SUMMARIZE if summarizing else "fallback"
                    break
                except BaseException:
                    self.end_attempt(
                        call,
                        target,
                        attempt,
                        outcome="cancelled",
                        limits=limits,
                        prompt_tokens=prompt_tokens,
                    )
                    raise
                # Now, not when the attempt ends: a stream's headers are written before.
                attempt.output_capped = limits.stats.output_capped
                attempt.dropped_params = limits.stats.dropped_params
                return result, target, attempt, limits
        if skipped_open and (last_error is None or last_error.kind in _ANOTHER_TARGET_CAN):
            # The targets that could have served it are only resting: a client told its
            # request is too long (or asks what no model gives) would change it for nothing.
            raise all_open_error(
                skipped_open,
                min(self.breakers.reopens_in(t.key) for t in skipped_open),
                last_error,
            )
        raise exhausted_error(last_error, call)

    async def _backoff(
        self, target: Target, error: ProviderError, retries: int, call_deadline: float
    ) -> bool:
        """Wait before retrying `target`; False if it should not be retried after all."""
        delay = self.policy.backoff_s(retries, error.retry_after_s)
        if self._clock() + delay >= call_deadline:
            return False
        if not self.breakers.allow_retry(target.key):
            self.bus.resilience("retry_budget_exhausted", target.provider, target.model, error.kind)
            return False
        await asyncio.sleep(delay)
        # Its breaker may have opened while we waited: then it is not hit again.
        return self.breakers.allow(target.key)

    def deadline_exceeded(self, call: CallRecord, target: Target) -> GatewayError:
        self.bus.resilience("deadline", target.provider, target.model)
        tried = call.upstream_attempts
        return GatewayError(
            "timeout",
            f"the request did not complete within its {self.deadline_s:g}s deadline "
            f"({tried} attempt(s) made)",
        )

    # --- non-streamed calls -----------------------------------------------------------
    async def complete(
        self,
        call: CallRecord,
        request: ChatRequest,
        *,
        recover: RequestRecovery | None = None,
    ) -> ChatResponse:
        current = request

        async def attempt_fn(
            target: Target, attempt: AttemptRecord, limits: AttemptLimits
        ) -> ChatResponse:
            return await target.adapter.complete(current, target.model, limits)

        async def on_context_length(target: Target, error: ProviderError) -> bool:
            nonlocal current
            assert recover is not None
            replaced = await recover(target, current, error)
            if replaced is None:
                return False
            current = replaced
            return True

        def restore() -> None:
            nonlocal current
            current = request

        response, target, attempt, limits = await self.run_attempts(
            call,
            attempt_fn,
            recover=on_context_length if recover is not None else None,
            restore=restore,
        )
        join = prefill_join(current, self.prefill, target.key)
        if join is not None:
            strip_repeated_prefill(response, join)
        attempt.usage = response.usage
        attempt.delivered = True
        self.end_attempt(call, target, attempt, limits=limits)
        call.served = attempt
        return response
