"""The dashboard's data: LiveStats' buckets and the snapshot built from them."""

from __future__ import annotations

import time

import orjson

from switchpoint.chat.usage import Usage
from switchpoint.execution.records import AttemptRecord, CallRecord
from switchpoint.observability.dashboard_snapshot import SnapshotBuilder
from switchpoint.observability.histogram import Histogram
from switchpoint.observability.live_stats import BUCKET_S, LiveStats
from switchpoint.observability.metrics import GatewayMetrics
from switchpoint.routing.decision import RoutingDecision


def decision(profile: str, requested: str, rules: list[str] | None = None) -> RoutingDecision:
    return RoutingDecision(
        profile=profile,
        model=f"m-{profile}",
        provider="p",
        requested_profile=requested,
        effective_max_tokens=1000,
        fallback_triggered=profile != requested,
        routing_rationale=f"why {profile}",
        rules=rules or [],
        chain=[profile],
    )


def call(
    wall: float,
    *,
    workload: str = "w",
    served: str = "w",
    ok: bool = True,
    duration: float = 0.2,
    cost: float = 0.01,
    rules: list[str] | None = None,
    skipped: bool = False,
) -> CallRecord:
    record = CallRecord(
        request_id="sp-x",
        protocol="openai",
        stream=False,
        started_wall=wall,
        started_at=100.0,
        workload=workload,
        decision=decision(served, workload, rules),
        duration_s=duration,
    )
    if skipped:
        skip = AttemptRecord(
            workload, "p", f"m-{workload}", "skipped", 100.0, outcome="skipped_open"
        )
        record.attempts.append(skip)
        record.fallback_reasons.append("breaker_open")
    attempt = AttemptRecord(
        served,
        "p",
        f"m-{served}",
        "fallback" if skipped else "first",
        100.0,
        duration_s=duration,
        usage=Usage(10, 5),
        cost_usd=cost,
        outcome="ok" if ok else "server_error",
    )
    record.attempts.append(attempt)
    if ok:
        record.served = attempt
    else:
        record.status = "upstream_error"
        record.http_status = 502
    return record


def test_snapshot_buckets_rates_latency_costs_and_breakers() -> None:
    live = LiveStats()
    metrics = GatewayMetrics()
    now = int(time.time()) // BUCKET_S * BUCKET_S + 5.0  # halfway through a bucket
    t0 = now - 25  # two buckets earlier
    for listener in (live, metrics):
        listener.on_call(call(t0, duration=0.1))
        listener.on_call(call(t0, duration=0.3, rules=["budget_fallback"], served="cheap"))
        listener.on_call(call(now - 1, skipped=True, served="other", duration=1.0))
        listener.on_call(call(now - 1, ok=False, duration=2.0, cost=0.02))
        listener.on_breaker("p", "m-w", "closed", "open", "error rate 3/3 over 30s")
    metrics.count_shed("in_flight")
    metrics.count_shed("loop_lag")
    builder = SnapshotBuilder(
        live,
        metrics,
        targets=lambda: [("p", "m-w"), ("p", "m-other")],
        breaker_states=lambda: {("p", "m-w"): "open"},
    )
    snapshot = builder.build(None, now=now)
    orjson.dumps(snapshot)  # JSON-serialisable as it stands
    assert snapshot["times"][-1] == int(now) // BUCKET_S * BUCKET_S
    rps = snapshot["traffic"]["rps"]
    # Two requests in a full bucket; two in the current one, 5 s old.
    assert rps[-3] == 2 / BUCKET_S and rps[-1] == 2 / 5 and sum(rps) == rps[-3] + rps[-1]
    assert snapshot["traffic"]["by_workload"]["w"] == rps
    assert sum(snapshot["traffic"]["by_model"]["m-cheap"]) == 1 / BUCKET_S
    assert sum(snapshot["errors"]) == 1
    assert snapshot["fallback"]["rate_now"] == 0.5  # 2 of 4 served off their profile
    assert snapshot["fallback"]["reasons"] == {"budget": 1, "breaker_open": 1}
    latency = snapshot["latency"]["p"]
    assert latency["attempts_now"] == 3  # successful attempts only
    assert 100 <= latency["p50_now_ms"] <= 400
    assert latency["p95_now_ms"] >= latency["p50_now_ms"]
    targets = {(t["provider"], t["model"]): t for t in snapshot["breakers"]["targets"]}
    assert targets[("p", "m-w")]["state"] == "open"
    assert targets[("p", "m-other")]["state"] == "closed"
    assert snapshot["breakers"]["transitions"][0]["to"] == "open"
    costs = {(r["workload"], r["model"]): r for r in snapshot["costs"]["since_start"]}
    assert costs[("w", "m-w")]["requests"] == 2 and costs[("w", "m-w")]["ok"] == 1
    assert costs[("w", "m-w")]["cost_usd"] == 0.03
    assert costs[("w", "m-w")]["cost_per_ok_usd"] == 0.03
    assert snapshot["ledger"] is None
    assert snapshot["in_flight"] == 0
    assert snapshot["shed"] == 2
    recent = snapshot["recent"]
    assert len(recent) == 4 and recent[0]["status"] == "upstream_error"
    assert recent[1]["fallback_reasons"] == ["breaker_open"]
    assert recent[2]["rules"] == ["budget_fallback"] and recent[2]["rationale"] == "why cheap"


def test_a_young_gateway_shows_at_least_three_minutes() -> None:
    live = LiveStats()
    builder = SnapshotBuilder(live, None, targets=list, breaker_states=dict)
    snapshot = builder.build(None)
    assert len(snapshot["times"]) == 18
    assert snapshot["in_flight"] is None and snapshot["latency"] == {}
    assert snapshot["shed"] is None


def test_histogram_cumulative_and_quantiles() -> None:
    histogram = Histogram((1.0, 2.0, 4.0))
    for v in (0.5, 1.0, 1.5, 3.0, 10.0):
        histogram.observe(v)
    assert histogram.cumulative() == [("1.0", 2), ("2.0", 3), ("4.0", 4), ("+Inf", 5)]
    assert histogram.count == 5 and histogram.sum == 16.0
    assert histogram.quantile(0.4) == 1.0
    assert 1.0 < histogram.quantile(0.6) <= 2.0  # type: ignore[operator]
    assert histogram.quantile(0.99) == 4.0  # +Inf bucket: the highest finite bound
    assert Histogram((1.0,)).quantile(0.5) is None
