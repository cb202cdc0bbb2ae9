"""The dashboard's recent past: traffic, latency, fallbacks and errors in 10 s buckets.

A listener that keeps the last 15 minutes in time buckets (a bucket is a few small
dicts; the request path only adds to them), the most recent calls by reference (their
JSON is built when the dashboard asks), and the circuit breakers' recent transitions.
Everything here is per process, and bounded in size whatever the traffic.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from switchpoint.events import Listener
from switchpoint.execution.records import CallRecord
from switchpoint.observability.histogram import Histogram
from switchpoint.observability.metrics import (
    NONE,
    ROUTING_FALLBACK_REASONS,
    call_target,
    execution_fallbacks,
)

BUCKET_S = 10
WINDOW_BUCKETS = 90  # 15 minutes
RECENT_CALLS = 50
RECENT_TRANSITIONS = 100
# Provider latency buckets for percentiles: 25% apart from 5 ms to ~10 minutes.
FINE_LATENCY_BUCKETS_S: tuple[float, ...] = tuple(0.005 * 1.25**k for k in range(66))


class Bucket:
    __slots__ = (
        "cost_usd",
        "errors",
        "fallback_reasons",
        "fallbacks",
        "latency",
        "requests",
        "start",
    )

    def __init__(self, start: int) -> None:
        self.start = start
        self.requests: dict[tuple[str, str], int] = {}  # (workload, model)
        self.errors: dict[str, int] = {}  # workload -> upstream errors (not the client's)
        self.fallbacks = 0  # requests served by a profile they did not ask for
        self.fallback_reasons: dict[str, int] = {}
        self.latency: dict[str, Histogram] = {}  # provider -> successful attempts
        self.cost_usd: dict[tuple[str, str], float] = {}


@dataclass(slots=True)
class Transition:
    at: float  # unix time
    provider: str
    model: str
    old: str
    new: str
    reason: str


@dataclass(slots=True)
class Totals:
    """Since the process started, per (workload, model)."""

    requests: int = 0
    ok: int = 0
    cost_usd: float = 0.0
    unpriced: int = 0


class LiveStats(Listener):
    def __init__(self) -> None:
        self.started_wall = time.time()
        self.buckets: deque[Bucket] = deque(maxlen=WINDOW_BUCKETS)
        self.recent: deque[CallRecord] = deque(maxlen=RECENT_CALLS)
        self.transitions: deque[Transition] = deque(maxlen=RECENT_TRANSITIONS)
        self.totals: dict[tuple[str, str], Totals] = {}

    def bucket_at(self, wall: float) -> Bucket:
        start = int(wall) // BUCKET_S * BUCKET_S
        buckets = self.buckets
        if buckets and buckets[-1].start >= start:
            # A call that started in an earlier bucket still counts in the current one:
            # buckets are "when it ended", and only move forward.
            return buckets[-1]
        bucket = Bucket(start)
        buckets.append(bucket)
        return bucket

    def on_call(self, call: CallRecord) -> None:
        self.recent.append(call)
        bucket = self.bucket_at(call.started_wall + call.duration_s)
        workload = call.workload or NONE
        _, _, model = call_target(call)
        key = (workload, model)
        bucket.requests[key] = bucket.requests.get(key, 0) + 1
        ok = call.status == "ok"
        if call.status == "upstream_error":
            bucket.errors[workload] = bucket.errors.get(workload, 0) + 1
        if call.fallback:
            bucket.fallbacks += 1
        reasons = bucket.fallback_reasons
        decision = call.decision
        if decision is not None:
            for rule in decision.rules:
                reason = ROUTING_FALLBACK_REASONS.get(rule)
                if reason is not None:
                    reasons[reason] = reasons.get(reason, 0) + 1
        if call.fallback_reasons:
            for reason in execution_fallbacks(call):
                reasons[reason] = reasons.get(reason, 0) + 1
        totals = self.totals.get(key)
        if totals is None:
            totals = self.totals[key] = Totals()
        totals.requests += 1
        if ok:
            totals.ok += 1
        for attempt in call.attempts:
            if attempt.outcome == "ok":
                histogram = bucket.latency.get(attempt.provider)
                if histogram is None:
                    histogram = bucket.latency[attempt.provider] = Histogram(FINE_LATENCY_BUCKETS_S)
                histogram.observe(attempt.duration_s)
            cost = attempt.cost_usd
            if cost is None:
                if not attempt.cost_known:
                    totals.unpriced += 1
                continue
            cost_key = (workload, attempt.model)
            bucket.cost_usd[cost_key] = bucket.cost_usd.get(cost_key, 0.0) + cost
            totals.cost_usd += cost

    def on_breaker(self, provider: str, model: str, old: str, new: str, reason: str) -> None:
        self.transitions.append(Transition(time.time(), provider, model, old, new, reason))
