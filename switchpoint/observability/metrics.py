"""The gateway's metrics as plain numbers, kept by an event-bus listener.

Each event costs a few dict look-ups and additions on label tuples; nothing is formatted
and no lock is taken (everything runs on the worker's event loop). `prometheus_export`
turns these numbers into Prometheus families when `/metrics` is scraped. Label values
are bounded by the configuration (workloads, profiles, providers, models) or by fixed
vocabularies (statuses, failure kinds, rule names): never request or task ids.
"""

from __future__ import annotations

from switchpoint.events import Listener
from switchpoint.execution.records import AttemptRecord, CallRecord
from switchpoint.observability.histogram import (
    LATENCY_BUCKETS_S,
    TOKEN_BUCKETS,
    TTFT_BUCKETS_S,
    Histogram,
)

# The label value for "not known": a request rejected before it was routed has no
# profile, provider or model.
NONE = "none"

# Routing rules that move a request off the profile it asked for, by fallback reason.
ROUTING_FALLBACK_REASONS: dict[str, str] = {
    "context_guard": "context_guard",
    "budget_fallback": "budget",
    "context_fit": "context_fit",
    "provider_unavailable": "provider_unavailable",
    "summarization": "summarization",
}
# Reasons execution records in `CallRecord.fallback_reasons` that keep their own name;
# every other one is an upstream failure kind, counted as `upstream_error` (the kind
# itself is on `switchpoint_upstream_attempts_total{outcome}`).
EXECUTION_FALLBACK_REASONS: dict[str, str] = {
    "breaker_open": "breaker_open",
    "context_length": "context_length",
    "summarization": "summarization",
}
UPSTREAM_ERROR = "upstream_error"

Key2 = tuple[str, str]
Key3 = tuple[str, str, str]
Key4 = tuple[str, str, str, str]
Key5 = tuple[str, str, str, str, str]


def call_target(call: CallRecord) -> Key3:
    """(profile, provider, model) a call is reported under: what served it; else the last
    target it tried; else what routing chose; else unknown."""
    served = call.served
    if served is not None:
        return served.profile, served.provider, served.model
    for attempt in reversed(call.attempts):
        if attempt.outcome != "skipped_open":
            return attempt.profile, attempt.provider, attempt.model
    decision = call.decision
    if decision is not None:
        return decision.profile, decision.provider, decision.model
    return NONE, NONE, NONE


def execution_fallbacks(call: CallRecord) -> list[str]:
    """The reasons of the moves execution actually made to a next target, mapped to the
    fallback vocabulary. Execution also records a reason when the last target fails and
    nothing is left to move to; that one is not a fallback."""
    reasons = call.fallback_reasons
    if not reasons:
        return []
    entries = sum(1 for a in call.attempts if a.reason in _TARGET_ENTRIES)
    moves = max(0, entries - 1)
    return [
        EXECUTION_FALLBACK_REASONS.get(raw, UPSTREAM_ERROR) for raw in reasons[:moves]
    ]


# Attempt reasons that start on a new target (a retry or a continuation stays on one).
_TARGET_ENTRIES = frozenset({"first", "fallback", "skipped"})


class GatewayMetrics(Listener):
    """Counters and histograms for one gateway process."""

    def __init__(self) -> None:
        self.started = 0
        self.finished = 0
        self.requests: dict[Key5, int] = {}
        self.durations: dict[Key4, Histogram] = {}
        self.ttft: dict[Key3, Histogram] = {}
        self.effective_max_tokens: dict[str, Histogram] = {}
        self.routing_rules: dict[Key2, int] = {}
        self.fallbacks: dict[str, int] = {}
        self.fallback_requests: dict[str, int] = {}
        self.attempts: dict[Key3, int] = {}
        self.attempt_durations: dict[Key2, Histogram] = {}
        self.retries: dict[Key3, int] = {}
        self.tokens: dict[Key3, int] = {}
        self.cost_usd: dict[Key2, float] = {}
        self.unpriced_attempts: dict[str, int] = {}
        self.breaker_transitions: dict[Key4, int] = {}

    @property
    def in_flight(self) -> int:
        return max(0, self.started - self.finished)

    # --- listener hooks -------------------------------------------------------------
    def on_call_start(self, call: CallRecord) -> None:
        self.started += 1

    def on_call(self, call: CallRecord) -> None:
        self.finished += 1
        workload = call.workload or NONE
        profile, provider, model = call_target(call)
        key = (workload, profile, provider, model, call.status)
        requests = self.requests
        requests[key] = requests.get(key, 0) + 1
        short = (workload, profile, provider, model)
        histogram = self.durations.get(short)
        if histogram is None:
            histogram = self.durations[short] = Histogram(LATENCY_BUCKETS_S)
        histogram.observe(call.duration_s)
        if call.stream and call.ttft_s is not None:
            ttft_key = (workload, provider, model)
            histogram = self.ttft.get(ttft_key)
            if histogram is None:
                histogram = self.ttft[ttft_key] = Histogram(TTFT_BUCKETS_S)
            histogram.observe(call.ttft_s)
        fallbacks = self.fallbacks
        decision = call.decision
        if decision is not None:
            histogram = self.effective_max_tokens.get(workload)
            if histogram is None:
                histogram = self.effective_max_tokens[workload] = Histogram(TOKEN_BUCKETS)
            histogram.observe(decision.effective_max_tokens)
            for rule in decision.rules:
                rule_key = (workload, rule)
                self.routing_rules[rule_key] = self.routing_rules.get(rule_key, 0) + 1
                reason = ROUTING_FALLBACK_REASONS.get(rule)
                if reason is not None:
                    fallbacks[reason] = fallbacks.get(reason, 0) + 1
        if call.fallback_reasons:
            for reason in execution_fallbacks(call):
                fallbacks[reason] = fallbacks.get(reason, 0) + 1
        if call.fallback:
            self.fallback_requests[workload] = self.fallback_requests.get(workload, 0) + 1
        if call.attempts:
            self._attempts(workload, call.attempts)

    def _attempts(self, workload: str, attempts: list[AttemptRecord]) -> None:
        previous: AttemptRecord | None = None
        for attempt in attempts:
            outcome = attempt.outcome
            if outcome == "skipped_open":
                continue  # not sent upstream: counted as a breaker_open fallback
            provider = attempt.provider
            model = attempt.model
            key = (provider, model, outcome)
            self.attempts[key] = self.attempts.get(key, 0) + 1
            target = (provider, model)
            histogram = self.attempt_durations.get(target)
            if histogram is None:
                histogram = self.attempt_durations[target] = Histogram(LATENCY_BUCKETS_S)
            histogram.observe(attempt.duration_s)
            if attempt.reason == "retry" and previous is not None:
                retry = (provider, model, previous.outcome)
                self.retries[retry] = self.retries.get(retry, 0) + 1
            usage = attempt.usage
            if usage is not None:
                self._usage(workload, attempt, model)
            previous = attempt

    def _usage(self, workload: str, attempt: AttemptRecord, model: str) -> None:
        usage = attempt.usage
        assert usage is not None
        tokens = self.tokens
        cached = usage.cached_input_tokens
        written = usage.cache_write_tokens
        # Disjoint kinds, so that summing over `kind` gives the total.
        for kind, count in (
            ("input", max(0, usage.input_tokens - cached - written)),
            ("cached", cached),
            ("cache_write", written),
            ("output", usage.output_tokens),
        ):
            if count:
                key = (model, workload, kind)
                tokens[key] = tokens.get(key, 0) + count
        cost = attempt.cost_usd
        if cost is None:
            self.unpriced_attempts[model] = self.unpriced_attempts.get(model, 0) + 1
        else:
            cost_key = (model, workload)
            self.cost_usd[cost_key] = self.cost_usd.get(cost_key, 0.0) + cost

    def on_breaker(self, provider: str, model: str, old: str, new: str, reason: str) -> None:
        key = (provider, model, old, new)
        self.breaker_transitions[key] = self.breaker_transitions.get(key, 0) + 1
