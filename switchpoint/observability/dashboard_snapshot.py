"""What the dashboard and `switchpoint top` show, as one JSON document.

Built on demand from `LiveStats` (the last 15 minutes), `GatewayMetrics` (counters since
start) and the executor's circuit breakers; the ledger's part (cost per completed
outcome, its queue) is filled in when a ledger is attached, and says so when it is not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from switchpoint import __version__
from switchpoint.execution.records import CallRecord
from switchpoint.observability.histogram import Histogram
from switchpoint.observability.live_stats import (
    BUCKET_S,
    FINE_LATENCY_BUCKETS_S,
    WINDOW_BUCKETS,
    Bucket,
    LiveStats,
)
from switchpoint.observability.metrics import GatewayMetrics, call_target

# "Now" for latency percentiles and rates: the last 5 minutes.
RECENT_BUCKETS = 30
MIN_WINDOW_BUCKETS = 18


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _merged(histograms: Iterable[Histogram]) -> Histogram:
    total = Histogram(FINE_LATENCY_BUCKETS_S)
    for histogram in histograms:
        total.merge(histogram)
    return total


def call_json(call: CallRecord) -> dict[str, Any]:
    decision = call.decision
    profile, provider, model = call_target(call)
    return {
        "at": round(call.started_wall, 3),
        "request_id": call.request_id,
        "workload": call.workload,
        "profile": profile,
        "provider": provider,
        "model": model,
        "stream": call.stream,
        "status": call.status,
        "http_status": call.http_status,
        "latency_ms": round(call.duration_s * 1000, 1),
        "ttft_ms": None if call.ttft_s is None else round(call.ttft_s * 1000, 1),
        "fallback": call.fallback,
        "fallback_reasons": list(call.fallback_reasons),
        "rules": list(decision.rules) if decision else [],
        "explanations": list(decision.explanations) if decision else [],
        "rationale": decision.routing_rationale if decision else "",
        "context_tokens": call.context_tokens,
        "effective_max_tokens": decision.effective_max_tokens if decision else None,
        "attempts": [
            {
                "provider": a.provider,
                "model": a.model,
                "reason": a.reason,
                "outcome": a.outcome,
                "ms": round(a.duration_s * 1000, 1),
            }
            for a in call.attempts
        ],
        "cost_usd": _round(call.cost_usd, 6),
        "error": call.error,
    }


class SnapshotBuilder:
    def __init__(
        self,
        live: LiveStats,
        metrics: GatewayMetrics | None,
        *,
        targets: Callable[[], Iterable[tuple[str, str]]],
        breaker_states: Callable[[], Mapping[tuple[str, str], str]],
    ) -> None:
        self.live = live
        self.metrics = metrics
        self._targets = targets
        self._breaker_states = breaker_states
        # (index, count) when this is one of several workers: the picture is its own.
        self.worker: tuple[int, int] | None = None

    def window(self, now: float) -> tuple[list[int], list[Bucket | None]]:
        """The buckets of the last 15 minutes, or since the process started (at least 3
        minutes, so a young gateway's charts are not a single point)."""
        last = int(now) // BUCKET_S * BUCKET_S
        age = int(now - self.live.started_wall) // BUCKET_S + 1
        count = min(WINDOW_BUCKETS, max(MIN_WINDOW_BUCKETS, age))
        starts = [last - BUCKET_S * (count - 1 - i) for i in range(count)]
        by_start = {bucket.start: bucket for bucket in self.live.buckets}
        return starts, [by_start.get(start) for start in starts]

    def build(self, ledger: dict[str, Any] | None, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        starts, buckets = self.window(now)
        recent = [b for b in buckets[-RECENT_BUCKETS:] if b is not None]
        return {
            "version": __version__,
            "generated_at": round(now, 3),
            "uptime_s": round(now - self.live.started_wall, 1),
            "bucket_s": BUCKET_S,
            "times": starts,
            "in_flight": self.metrics.in_flight if self.metrics is not None else None,
            # Chat calls refused as overloaded since start (load shedding).
            "shed": sum(self.metrics.shed.values()) if self.metrics is not None else None,
            "worker": (
                None if self.worker is None else {"index": self.worker[0], "count": self.worker[1]}
            ),
            "traffic": self._traffic(buckets, max(1.0, now - starts[-1])),
            "errors": [sum(b.errors.values()) if b else 0 for b in buckets],
            "fallback": self._fallback(buckets, recent),
            "latency": self._latency(buckets, recent),
            "breakers": self._breakers(),
            "costs": self._costs(recent),
            "ledger": ledger,
            "recent": [call_json(call) for call in reversed(self.live.recent)],
        }

    @staticmethod
    def _traffic(buckets: list[Bucket | None], current_s: float) -> dict[str, Any]:
        """Requests per second in each bucket; the current bucket is still filling, so its
        rate is over the seconds it has had (otherwise every chart would end in a dip)."""
        by_workload: dict[str, list[float]] = {}
        by_model: dict[str, list[float]] = {}
        total: list[float] = []
        last = len(buckets) - 1
        for index, bucket in enumerate(buckets):
            count = 0
            seconds = min(float(BUCKET_S), current_s) if index == last else float(BUCKET_S)
            if bucket is not None:
                for (workload, model), n in bucket.requests.items():
                    series = by_workload.setdefault(workload, [0.0] * len(buckets))
                    series[index] += n / seconds
                    series = by_model.setdefault(model, [0.0] * len(buckets))
                    series[index] += n / seconds
                    count += n
            total.append(count / seconds)
        return {
            "rps": [round(v, 3) for v in total],
            "by_workload": {k: [round(v, 3) for v in s] for k, s in sorted(by_workload.items())},
            "by_model": {k: [round(v, 3) for v in s] for k, s in sorted(by_model.items())},
        }

    @staticmethod
    def _fallback(buckets: list[Bucket | None], recent: list[Bucket]) -> dict[str, Any]:
        rate: list[float | None] = []
        for bucket in buckets:
            requests = sum(bucket.requests.values()) if bucket else 0
            rate.append(round(bucket.fallbacks / requests, 4) if bucket and requests else None)
        reasons: dict[str, int] = {}
        for bucket in recent:
            for reason, count in bucket.fallback_reasons.items():
                reasons[reason] = reasons.get(reason, 0) + count
        requests = sum(sum(b.requests.values()) for b in recent)
        fallbacks = sum(b.fallbacks for b in recent)
        return {
            "rate": rate,
            "rate_now": round(fallbacks / requests, 4) if requests else None,
            "reasons": dict(sorted(reasons.items(), key=lambda item: -item[1])),
        }

    @staticmethod
    def _latency(buckets: list[Bucket | None], recent: list[Bucket]) -> dict[str, Any]:
        providers = sorted({p for b in buckets if b for p in b.latency})
        out: dict[str, Any] = {}
        for provider in providers:
            p50: list[float | None] = []
            p95: list[float | None] = []
            for bucket in buckets:
                histogram = bucket.latency.get(provider) if bucket else None
                p50.append(_ms(histogram.quantile(0.5)) if histogram else None)
                p95.append(_ms(histogram.quantile(0.95)) if histogram else None)
            merged = _merged(b.latency[provider] for b in recent if provider in b.latency)
            out[provider] = {
                "p50_ms": p50,
                "p95_ms": p95,
                "p50_now_ms": _ms(merged.quantile(0.5)),
                "p95_now_ms": _ms(merged.quantile(0.95)),
                "attempts_now": merged.count,
            }
        return out

    def _breakers(self) -> dict[str, Any]:
        states = self._breaker_states()
        targets = list(dict.fromkeys([*self._targets(), *states]))
        transitions = list(self.live.transitions)
        last_change: dict[tuple[str, str], float] = {}
        for t in transitions:
            last_change[(t.provider, t.model)] = t.at
        return {
            "targets": [
                {
                    "provider": provider,
                    "model": model,
                    "state": states.get((provider, model), "closed"),
                    "since": last_change.get((provider, model)),
                }
                for provider, model in targets
            ],
            "transitions": [
                {
                    "at": round(t.at, 3),
                    "provider": t.provider,
                    "model": t.model,
                    "from": t.old,
                    "to": t.new,
                    "reason": t.reason,
                }
                for t in reversed(transitions)
            ],
        }

    def _costs(self, recent: list[Bucket]) -> dict[str, Any]:
        rows = []
        for (workload, model), totals in sorted(self.live.totals.items()):
            rows.append(
                {
                    "workload": workload,
                    "model": model,
                    "requests": totals.requests,
                    "ok": totals.ok,
                    "cost_usd": round(totals.cost_usd, 6),
                    "cost_per_ok_usd": round(totals.cost_usd / totals.ok, 6) if totals.ok else None,
                    "unpriced_attempts": totals.unpriced,
                }
            )
        spend: dict[str, float] = {}
        for bucket in recent:
            for (_, model), cost in bucket.cost_usd.items():
                spend[model] = spend.get(model, 0.0) + cost
        return {
            "since_start": rows,
            "recent_usd_by_model": {m: round(c, 6) for m, c in sorted(spend.items())},
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)
