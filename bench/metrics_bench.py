"""Per-call CPU cost of the observability listeners, and of scraping them.

Compares the two ways of keeping Prometheus metrics on the request path:

- `plain`: switchpoint's `GatewayMetrics` (dicts of numbers keyed by label tuples) with a
  custom collector that builds the families at scrape time;
- `client_cached`: prometheus_client's own Counter/Histogram objects, with the labelled
  children cached in dicts so `.labels()` (the expensive part) runs once per series;
- `client_labels`: prometheus_client calling `.labels()` on every event, for reference.

Each does the same bookkeeping for the same calls (a plain success, and a fallback with
a failed attempt and a skipped open breaker). Also measured: the dashboard's
`LiveStats`, the whole bus with the default listeners, a scrape, a dashboard snapshot,
and building a call's spans when tracing is on.

    python -m bench.metrics_bench [--calls 100000] [--json bench/results/metrics.json]
"""

from __future__ import annotations

import argparse
import gc
import platform
import time
from collections.abc import Callable
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from switchpoint.chat.usage import Usage
from switchpoint.events import EventBus
from switchpoint.execution.records import AttemptRecord, CallRecord
from switchpoint.observability.dashboard_snapshot import SnapshotBuilder
from switchpoint.observability.histogram import LATENCY_BUCKETS_S, TOKEN_BUCKETS, TTFT_BUCKETS_S
from switchpoint.observability.live_stats import LiveStats
from switchpoint.observability.metrics import GatewayMetrics, call_target, execution_fallbacks
from switchpoint.observability.prometheus_export import GatewayCollector, MetricsExposition
from switchpoint.routing.decision import RoutingDecision

WORKLOADS = ["terminal_agent", "multi_file_refactor", "deep_research", "cost_sensitive"]
MODELS = {"terminal_agent": ("openai", "gpt-5.5"), "multi_file_refactor": ("anthropic",
          "claude-opus-4-7"), "deep_research": ("google", "gemini-3.1-pro"),
          "cost_sensitive": ("openai", "gpt-5.4")}


def make_call(index: int) -> CallRecord:
    """A success, or every fourth call a fallback past a failure and an open breaker."""
    workload = WORKLOADS[index % len(WORKLOADS)]
    provider, model = MODELS[workload]
    decision = RoutingDecision(
        profile=workload, model=model, provider=provider, requested_profile=workload,
        effective_max_tokens=40_000, fallback_triggered=False, routing_rationale="r",
        chain=[workload, "cost_sensitive"],
    )
    call = CallRecord(
        request_id=f"sp-{index:08x}", protocol="openai", stream=index % 2 == 0,
        started_wall=time.time(), started_at=100.0, workload=workload, decision=decision,
        duration_s=0.4 + (index % 7) * 0.1, ttft_s=0.12,
    )
    if index % 4 == 3:
        call.attempts.append(AttemptRecord(workload, provider, model, "first", 100.0,
                                           duration_s=0.05, outcome="overloaded", status=503))
        call.attempts.append(AttemptRecord("x", "anthropic", "claude-opus-4-7", "skipped",
                                           100.05, outcome="skipped_open"))
        call.fallback_reasons += ["overloaded", "breaker_open"]
        served = AttemptRecord("cost_sensitive", "openai", "gpt-5.4", "fallback", 100.06,
                               duration_s=0.3, ttft_s=0.1, usage=Usage(4000, 300, 1000),
                               cost_usd=0.0012)
    else:
        served = AttemptRecord(workload, provider, model, "first", 100.0, duration_s=0.35,
                               ttft_s=0.1, usage=Usage(4000, 300, 1000), cost_usd=0.002)
    call.attempts.append(served)
    call.served = served
    return call


class ClientMetrics:
    """The same bookkeeping as GatewayMetrics, with prometheus_client's own metrics."""

    def __init__(self, cache: bool) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        labels = ["workload", "profile", "provider", "model"]
        self.requests = Counter("switchpoint_requests", "", [*labels, "status"], registry=r)
        self.duration = Histogram("switchpoint_request_duration_seconds", "", labels,
                                  buckets=LATENCY_BUCKETS_S, registry=r)
        self.ttft = Histogram("switchpoint_time_to_first_token_seconds", "",
                              ["workload", "provider", "model"], buckets=TTFT_BUCKETS_S,
                              registry=r)
        self.effective = Histogram("switchpoint_effective_max_tokens", "", ["workload"],
                                   buckets=TOKEN_BUCKETS, registry=r)
        self.fallbacks = Counter("switchpoint_fallbacks", "", ["reason"], registry=r)
        self.fallback_requests = Counter("switchpoint_fallback_requests", "", ["workload"],
                                         registry=r)
        self.attempts = Counter("switchpoint_upstream_attempts", "",
                                ["provider", "model", "outcome"], registry=r)
        self.attempt_duration = Histogram("switchpoint_upstream_attempt_duration_seconds", "",
                                          ["provider", "model"], buckets=LATENCY_BUCKETS_S,
                                          registry=r)
        self.tokens = Counter("switchpoint_tokens", "", ["model", "workload", "kind"],
                              registry=r)
        self.cost = Counter("switchpoint_cost_usd", "", ["model", "workload"], registry=r)
        self.in_flight = Gauge("switchpoint_in_flight_requests", "", registry=r)
        self.cache = cache
        self._children: dict[tuple[Any, ...], Any] = {}

    def child(self, metric: Any, *values: str) -> Any:
        if not self.cache:
            return metric.labels(*values)
        key = (id(metric), *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def on_call_start(self, call: CallRecord) -> None:
        self.in_flight.inc()

    def on_call(self, call: CallRecord) -> None:
        self.in_flight.dec()
        workload = call.workload or "none"
        profile, provider, model = call_target(call)
        self.child(self.requests, workload, profile, provider, model, call.status).inc()
        self.child(self.duration, workload, profile, provider, model).observe(call.duration_s)
        if call.stream and call.ttft_s is not None:
            self.child(self.ttft, workload, provider, model).observe(call.ttft_s)
        if call.decision is not None:
            self.child(self.effective, workload).observe(call.decision.effective_max_tokens)
        for reason in execution_fallbacks(call):
            self.child(self.fallbacks, reason).inc()
        if call.fallback:
            self.child(self.fallback_requests, workload).inc()
        for attempt in call.attempts:
            if attempt.outcome == "skipped_open":
                continue
            self.child(self.attempts, attempt.provider, attempt.model, attempt.outcome).inc()
            self.child(self.attempt_duration, attempt.provider, attempt.model).observe(
                attempt.duration_s)
            usage = attempt.usage
            if usage is not None:
                cached = usage.cached_input_tokens
                for kind, count in (("input", usage.input_tokens - cached), ("cached", cached),
                                    ("output", usage.output_tokens)):
                    if count:
                        self.child(self.tokens, attempt.model, workload, kind).inc(count)
                if attempt.cost_usd is not None:
                    self.child(self.cost, attempt.model, workload).inc(attempt.cost_usd)


def per_call_us(fn: Callable[[CallRecord], None], calls: list[CallRecord], repeats: int) -> float:
    """Best of `repeats` runs over `calls`: CPU µs per call."""
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        started = time.process_time_ns()
        for call in calls:
            fn(call)
        best = min(best, (time.process_time_ns() - started) / len(calls) / 1000)
    return best


def per_op_ms(fn: Callable[[], object], count: int) -> float:
    started = time.process_time_ns()
    for _ in range(count):
        fn()
    return (time.process_time_ns() - started) / count / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="Also write the figures to this file.")
    args = parser.parse_args()
    calls = [make_call(i) for i in range(args.calls)]
    results: dict[str, float] = {}

    def both(listener: Any) -> Callable[[CallRecord], None]:
        def run(call: CallRecord) -> None:
            listener.on_call_start(call)
            listener.on_call(call)
        return run

    plain = GatewayMetrics()
    results["plain_us_per_call"] = per_call_us(both(plain), calls, args.repeats)
    cached = ClientMetrics(cache=True)
    results["client_cached_us_per_call"] = per_call_us(both(cached), calls, args.repeats)
    uncached = ClientMetrics(cache=False)
    results["client_labels_us_per_call"] = per_call_us(both(uncached), calls, args.repeats)
    live = LiveStats()
    results["live_stats_us_per_call"] = per_call_us(live.on_call, calls, args.repeats)

    bus = EventBus()
    bus_metrics = GatewayMetrics()
    bus_live = LiveStats()
    bus.subscribe(bus_metrics)
    bus.subscribe(bus_live)

    def through_bus(call: CallRecord) -> None:
        bus.call_started(call)
        for attempt in call.attempts:
            bus.attempt(call, attempt)
        bus.call(call)

    results["bus_metrics_and_dashboard_us_per_call"] = per_call_us(
        through_bus, calls, args.repeats)

    targets = [MODELS[w] for w in WORKLOADS]
    collector = GatewayCollector(plain, targets=lambda: targets, breaker_states=dict)
    exposition = MetricsExposition(collector)
    body, _ = exposition.render(None)
    results["scrape_series"] = sum(
        1 for line in body.decode().splitlines() if line.startswith("switchpoint_"))
    results["scrape_plain_ms"] = per_op_ms(lambda: exposition.render(None), 200)
    results["scrape_client_cached_ms"] = per_op_ms(
        lambda: generate_latest(cached.registry), 200)
    builder = SnapshotBuilder(live, plain, targets=lambda: targets, breaker_states=dict)
    results["snapshot_ms"] = per_op_ms(
        lambda: orjson.dumps(builder.build(None), option=orjson.OPT_NON_STR_KEYS), 200)

    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from switchpoint.observability.tracing import TraceExporter

    processor = BatchSpanProcessor(InMemorySpanExporter(), max_queue_size=1_000_000)
    tracer = TraceExporter(processor)
    sample = calls[: min(len(calls), 20_000)]
    results["trace_spans_us_per_call"] = per_call_us(tracer.record, sample, 1)
    results["trace_enqueue_us_per_call"] = per_call_us(
        lambda call: tracer._pending.append(call), sample, args.repeats)
    processor.shutdown()

    print(f"python {platform.python_version()} on {platform.machine()}, "
          f"{args.calls} calls (1 in 4 a fallback with 3 attempts), best of {args.repeats}")
    for name, figure in results.items():
        print(f"  {name:42s} {figure:10.2f}")
    if args.json:
        with open(args.json, "wb") as out:
            out.write(orjson.dumps(results, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
