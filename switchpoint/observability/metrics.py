"""The gateway's metrics as plain numbers, kept by an event-bus listener.

Each event costs a few dict look-ups and additions on label tuples; nothing is formatted
and no lock is taken (everything runs on the worker's event loop). `prometheus_export`
turns these numbers into Prometheus families when `/metrics` is scraped. Label values
are bounded by the configuration (workloads, profiles, providers, models) or by fixed
vocabularies (statuses, failure kinds, rule names): never request or task ids.
"""

from __future__ import annotations

from switchpoint.events import Listener
from switchpoint.execution.records import (
    SKIPPED_OPEN,
    AttemptRecord,
    CallRecord,
    SummarizationRecord,
)
from switchpoint.observability.histogram import (
    GC_PAUSE_BUCKETS_S,
    LATENCY_BUCKETS_S,
    LOOP_LAG_BUCKETS_S,
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
    # A task near its budget downgraded to the budget profile.
    "task_budget": "budget",
    "context_fit": "context_fit",
    "provider_unavailable": "provider_unavailable",
    "summarization": "summarization",
    # Moved to a long-context profile because a planned summarization failed.
    "summarization_fallback": "summarization",
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
# CPython's collector generations, as label values.
GC_GENERATIONS: tuple[str, ...] = ("0", "1", "2")

Key3 = tuple[str, str, str]


def call_target(call: CallRecord) -> Key3:
    """(profile, provider, model) a call is reported under: what served it; else the last
    target it tried; else what routing chose; else unknown."""
    served = call.served
    if served is not None:
        return served.profile, served.provider, served.model
    for attempt in reversed(call.attempts):
        if attempt.outcome != SKIPPED_OPEN:
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
    return [EXECUTION_FALLBACK_REASONS.get(raw, UPSTREAM_ERROR) for raw in reasons[:moves]]


# Attempt reasons that start on a new target (a retry or a continuation stays on one).
_TARGET_ENTRIES = frozenset({"first", "fallback", "skipped"})


class CallSeries:
    """Calls with one (workload, profile, provider, model)."""

    __slots__ = ("duration", "statuses", "ttft")

    def __init__(self) -> None:
        self.statuses: dict[str, int] = {}
        self.duration = Histogram(LATENCY_BUCKETS_S)
        self.ttft: Histogram | None = None


class AttemptSeries:
    """Upstream attempts with one (workload, provider, model)."""

    __slots__ = (
        "cache_write",
        "cached",
        "cost_usd",
        "duration",
        "input",
        "outcomes",
        "output",
        "unpriced",
    )

    def __init__(self) -> None:
        self.outcomes: dict[str, int] = {}
        self.duration = Histogram(LATENCY_BUCKETS_S)
        self.input = 0  # uncached prompt tokens
        self.cached = 0
        self.cache_write = 0
        self.output = 0
        self.cost_usd = 0.0
        self.unpriced = 0


class WorkloadSeries:
    __slots__ = ("effective_max_tokens", "fallback_requests", "rules")

    def __init__(self) -> None:
        self.effective_max_tokens = Histogram(TOKEN_BUCKETS)
        self.fallback_requests = 0
        self.rules: dict[str, int] = {}


class GatewayMetrics(Listener):
    """Counters and histograms for one gateway process.

    Grouped so that an event costs a few dict look-ups: one object per label combination
    holds all of its numbers; `prometheus_export` regroups them by each metric's labels
    when scraped.
    """

    def __init__(self) -> None:
        self.started = 0
        self.finished = 0
        self.calls: dict[tuple[str, str, str, str], CallSeries] = {}
        self.attempts: dict[tuple[str, str, str], AttemptSeries] = {}
        self.workloads: dict[str, WorkloadSeries] = {}
        self.fallbacks: dict[str, int] = {}
        self.breaker_transitions: dict[tuple[str, str, str, str], int] = {}
        # Execution's resilience events, (name, provider, model, reason) -> count.
        self.resilience: dict[tuple[str, str, str, str], int] = {}
        # Summarizations, (workload, trigger, outcome) -> count; and over all of them:
        # summaries served from the cache, summarizer calls made, tokens removed.
        self.summarizations: dict[tuple[str, str, str], int] = {}
        self.summary_cache_hits = 0
        self.summarizer_calls = 0
        self.summarized_tokens_removed = 0
        # How long each garbage collection stopped the process, by generation (kept by
        # `gc_pauses.GcPauses` while the server runs).
        self.gc_pauses: dict[str, Histogram] = {
            generation: Histogram(GC_PAUSE_BUCKETS_S) for generation in GC_GENERATIONS
        }
        # How late the event loop ran its timer, sampled ten times a second while the
        # server runs (`server/loop_lag.py`).
        self.loop_lag = Histogram(LOOP_LAG_BUCKETS_S)
        # Chat calls refused because the worker was overloaded, by reason.
        self.shed: dict[str, int] = {}

    @property
    def in_flight(self) -> int:
        return max(0, self.started - self.finished)

    def count_shed(self, reason: str) -> None:
        self.shed[reason] = self.shed.get(reason, 0) + 1

    # --- listener hooks -------------------------------------------------------------
    def on_call_start(self, call: CallRecord) -> None:
        self.started += 1

    def on_call(self, call: CallRecord) -> None:
        self.finished += 1
        workload = call.workload or NONE
        served = call.served
        if served is not None:
            key = (workload, served.profile, served.provider, served.model)
        else:
            profile, provider, model = call_target(call)
            key = (workload, profile, provider, model)
        series = self.calls.get(key)
        if series is None:
            series = self.calls[key] = CallSeries()
        statuses = series.statuses
        status = call.status
        statuses[status] = statuses.get(status, 0) + 1
        series.duration.observe(call.duration_s)
        if call.stream and call.ttft_s is not None:
            if series.ttft is None:
                series.ttft = Histogram(TTFT_BUCKETS_S)
            series.ttft.observe(call.ttft_s)
        decision = call.decision
        if decision is not None:
            per_workload = self.workloads.get(workload)
            if per_workload is None:
                per_workload = self.workloads[workload] = WorkloadSeries()
            per_workload.effective_max_tokens.observe(decision.effective_max_tokens)
            if decision.rules:
                self._rules(per_workload, decision.rules)
            if served is not None and served.profile != decision.requested_profile:
                per_workload.fallback_requests += 1
        if call.fallback_reasons:
            fallbacks = self.fallbacks
            for reason in execution_fallbacks(call):
                fallbacks[reason] = fallbacks.get(reason, 0) + 1
        if call.attempts:
            self._attempts(workload, call.attempts)

    def _rules(self, per_workload: WorkloadSeries, rules: list[str]) -> None:
        fallbacks = self.fallbacks
        for rule in rules:
            per_workload.rules[rule] = per_workload.rules.get(rule, 0) + 1
            reason = ROUTING_FALLBACK_REASONS.get(rule)
            if reason is not None:
                fallbacks[reason] = fallbacks.get(reason, 0) + 1

    def _attempts(self, workload: str, attempts: list[AttemptRecord]) -> None:
        for attempt in attempts:
            outcome = attempt.outcome
            if outcome == SKIPPED_OPEN:
                continue  # not sent upstream: counted as a breaker_open fallback
            key = (workload, attempt.provider, attempt.model)
            series = self.attempts.get(key)
            if series is None:
                series = self.attempts[key] = AttemptSeries()
            series.outcomes[outcome] = series.outcomes.get(outcome, 0) + 1
            series.duration.observe(attempt.duration_s)
            usage = attempt.usage
            if usage is not None:
                cached = usage.cached_input_tokens
                written = usage.cache_write_tokens
                # Disjoint kinds, so that summing over `kind` gives the total.
                series.input += max(0, usage.input_tokens - cached - written)
                series.cached += cached
                series.cache_write += written
                series.output += usage.output_tokens
            cost = attempt.cost_usd
            if cost is not None:
                series.cost_usd += cost
            elif not attempt.cost_known:
                # No price, or content without a usage report: unknown, not zero.
                series.unpriced += 1

    def on_summarization(self, call: CallRecord, record: SummarizationRecord) -> None:
        key = (call.workload or NONE, record.trigger, record.outcome)
        self.summarizations[key] = self.summarizations.get(key, 0) + 1
        self.summary_cache_hits += record.cache_hits
        self.summarizer_calls += record.summarizer_calls
        if record.ok:
            self.summarized_tokens_removed += max(0, record.tokens_before - record.tokens_after)

    def on_breaker(self, provider: str, model: str, old: str, new: str, reason: str) -> None:
        key = (provider, model, old, new)
        self.breaker_transitions[key] = self.breaker_transitions.get(key, 0) + 1

    def on_resilience(self, name: str, provider: str, model: str, reason: str, count: int) -> None:
        key = (name, provider, model, reason)
        self.resilience[key] = self.resilience.get(key, 0) + count


def merge_metrics(parts: list[GatewayMetrics]) -> GatewayMetrics:
    """The sum of several processes' metrics (histograms merged bucket by bucket)."""
    total = GatewayMetrics()
    for part in parts:
        total.started += part.started
        total.finished += part.finished
        for key, calls in part.calls.items():
            into = total.calls.get(key)
            if into is None:
                into = total.calls[key] = CallSeries()
            for status, count in calls.statuses.items():
                into.statuses[status] = into.statuses.get(status, 0) + count
            into.duration.merge(calls.duration)
            if calls.ttft is not None:
                if into.ttft is None:
                    into.ttft = Histogram(TTFT_BUCKETS_S)
                into.ttft.merge(calls.ttft)
        for attempt_key, attempts in part.attempts.items():
            sums = total.attempts.get(attempt_key)
            if sums is None:
                sums = total.attempts[attempt_key] = AttemptSeries()
            for outcome, count in attempts.outcomes.items():
                sums.outcomes[outcome] = sums.outcomes.get(outcome, 0) + count
            sums.duration.merge(attempts.duration)
            sums.input += attempts.input
            sums.cached += attempts.cached
            sums.cache_write += attempts.cache_write
            sums.output += attempts.output
            sums.cost_usd += attempts.cost_usd
            sums.unpriced += attempts.unpriced
        for workload, per_workload in part.workloads.items():
            into_workload = total.workloads.get(workload)
            if into_workload is None:
                into_workload = total.workloads[workload] = WorkloadSeries()
            into_workload.effective_max_tokens.merge(per_workload.effective_max_tokens)
            into_workload.fallback_requests += per_workload.fallback_requests
            for rule, count in per_workload.rules.items():
                into_workload.rules[rule] = into_workload.rules.get(rule, 0) + count
        for reason, count in part.fallbacks.items():
            total.fallbacks[reason] = total.fallbacks.get(reason, 0) + count
        for transition, count in part.breaker_transitions.items():
            total.breaker_transitions[transition] = (
                total.breaker_transitions.get(transition, 0) + count
            )
        for event, count in part.resilience.items():
            total.resilience[event] = total.resilience.get(event, 0) + count
        for summary_key, count in part.summarizations.items():
            total.summarizations[summary_key] = total.summarizations.get(summary_key, 0) + count
        total.summary_cache_hits += part.summary_cache_hits
        total.summarizer_calls += part.summarizer_calls
        total.summarized_tokens_removed += part.summarized_tokens_removed
        for generation, pauses in part.gc_pauses.items():
            total.gc_pauses[generation].merge(pauses)
        total.loop_lag.merge(part.loop_lag)
        for reason, count in part.shed.items():
            total.shed[reason] = total.shed.get(reason, 0) + count
    return total
