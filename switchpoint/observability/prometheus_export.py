"""`/metrics`: the gateway's numbers in Prometheus' text format, built when scraped.

A custom collector over `GatewayMetrics`' plain dicts: the request path only ever adds
to numbers, and the cost of label handling and formatting is paid here, once per scrape
(see bench/metrics_bench.py for the comparison with prometheus_client's own metrics).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TypeVar

from prometheus_client import CollectorRegistry, PlatformCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from switchpoint import __version__
from switchpoint.ingress.load_shedding import SHED_REASONS
from switchpoint.observability.histogram import Histogram
from switchpoint.observability.metrics import (
    EXECUTION_FALLBACK_REASONS,
    ROUTING_FALLBACK_REASONS,
    UPSTREAM_ERROR,
    GatewayMetrics,
)
from switchpoint.observability.process_families import ProcessFamilies, runtime_sources

# 0 closed, 1 half-open, 2 open: "bigger is worse", so max() over targets means something.
BREAKER_STATE_VALUES: dict[str, int] = {"closed": 0, "half_open": 1, "open": 2}

FALLBACK_REASONS: tuple[str, ...] = tuple(
    sorted(
        {*ROUTING_FALLBACK_REASONS.values(), *EXECUTION_FALLBACK_REASONS.values(), UPSTREAM_ERROR}
    )
)

BreakerStates = Callable[[], Mapping[tuple[str, str], str]]

REQUEST_LABELS = ["workload", "profile", "provider", "model"]

LabelValues = TypeVar("LabelValues", bound=tuple[str, ...])
Number = TypeVar("Number", int, float)


def _histograms(
    name: str, documentation: str, labels: list[str], values: Mapping[LabelValues, Histogram]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation, labels=labels)
    for key, histogram in values.items():
        family.add_metric(list(key), histogram.cumulative(), histogram.sum)
    return family


def _counters(
    name: str,
    documentation: str,
    labels: list[str],
    values: Mapping[LabelValues, float],
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for key, value in values.items():
        family.add_metric(list(key), value)
    return family


def _add(into: dict[tuple[str, ...], Number], key: tuple[str, ...], amount: Number) -> None:
    into[key] = into.get(key, 0) + amount


def _add_histogram(
    into: dict[tuple[str, ...], Histogram], key: tuple[str, ...], histogram: Histogram
) -> None:
    total = into.get(key)
    if total is None:
        total = into[key] = Histogram(histogram.bounds)
    total.merge(histogram)


# Execution's resilience events (see `Listener.on_resilience`), one family each:
# name -> (metric, help, the label `reason` is exported as, or None to drop it).
RESILIENCE_FAMILIES: dict[str, tuple[str, str, str | None]] = {
    "retry": (
        "switchpoint_retries_total",
        "Attempts that retried the same target, by the failure that caused the retry.",
        "reason",
    ),
    "retry_budget_exhausted": (
        "switchpoint_retry_budget_exhausted_total",
        "Retries not made because the target's retry budget was spent, by failure kind.",
        "reason",
    ),
    "malformed_events": (
        "switchpoint_stream_malformed_events_total",
        "Upstream stream events skipped because they could not be decoded.",
        None,
    ),
    "continuation": (
        "switchpoint_stream_continuations_total",
        "Streams cut mid-answer and resumed, by result: attempted, succeeded, failed, "
        "impossible (tool calls had been streamed).",
        "result",
    ),
    "prefill_unsupported": (
        "switchpoint_prefill_unsupported_total",
        "Targets found to reject an assistant prefill (not asked to continue again).",
        None,
    ),
    "sampling_dropped": (
        "switchpoint_sampling_settings_dropped_total",
        "Attempts sent without sampling settings the model refuses, by the settings left out.",
        "settings",
    ),
    "deadline": (
        "switchpoint_deadlines_exceeded_total",
        "Calls ended by their request deadline, by the target being tried.",
        None,
    ),
}
# Already counted from call records, by reason, in switchpoint_fallbacks_total.
_COUNTED_ELSEWHERE = frozenset({"fallback"})


class GatewayCollector(Collector):
    """A prometheus_client collector over one process' `GatewayMetrics`."""

    def __init__(
        self,
        metrics: GatewayMetrics,
        *,
        targets: Callable[[], Iterable[tuple[str, str]]],
        breaker_states: BreakerStates,
    ) -> None:
        self.metrics = metrics
        self._targets = targets
        self.breaker_states = breaker_states
        # What a scrape shows: this process' numbers, or (several workers) everyone's.
        self.view: Callable[[], GatewayMetrics] = lambda: metrics

    @staticmethod
    def _summarizations(m: GatewayMetrics) -> Iterator[Metric]:
        yield _counters(
            "switchpoint_summarizations_total",
            "Conversations compressed (summarization_strategy: hierarchical), by trigger "
            "(routing: too large before dispatch; context_length: a provider said so) and "
            "outcome: summarized, failed, timeout, empty, truncated, not_compressible, "
            "did_not_converge.",
            ["workload", "trigger", "outcome"],
            m.summarizations,
        )
        yield CounterMetricFamily(
            "switchpoint_summary_cache_hits",
            "Summaries served from the summary cache instead of a summarizer call.",
            value=m.summary_cache_hits,
        )
        yield CounterMetricFamily(
            "switchpoint_summarizer_calls",
            "Summaries written by the summarizer profile (its attempts are in "
            "switchpoint_upstream_attempts_total).",
            value=m.summarizer_calls,
        )
        yield CounterMetricFamily(
            "switchpoint_summarized_tokens_removed",
            "Context tokens removed by summarization (before minus after).",
            value=m.summarized_tokens_removed,
        )

    def collect(self) -> Iterator[Metric]:
        m = self.view()
        info = GaugeMetricFamily(
            "switchpoint_build_info", "Switchpoint's version (always 1).", labels=["version"]
        )
        info.add_metric([__version__], 1)
        yield info
        requests: dict[tuple[str, ...], int] = {}
        ttft: dict[tuple[str, ...], Histogram] = {}
        for key, series in m.calls.items():
            for status, count in series.statuses.items():
                requests[(*key, status)] = count
            if series.ttft is not None:
                workload, _, provider, model = key
                _add_histogram(ttft, (workload, provider, model), series.ttft)
        yield _counters(
            "switchpoint_requests_total",
            "Client requests that ended, by the workload asked for, the profile/provider/model "
            "that served it (or last tried it) and status: ok, client_error, upstream_error, "
            "cancelled.",
            [*REQUEST_LABELS, "status"],
            requests,
        )
        yield _histograms(
            "switchpoint_request_duration_seconds",
            "Client request latency, from arrival to the last byte of the answer.",
            REQUEST_LABELS,
            {key: series.duration for key, series in m.calls.items()},
        )
        yield _histograms(
            "switchpoint_time_to_first_token_seconds",
            "Streamed requests: time from arrival to the first content sent to the client.",
            ["workload", "provider", "model"],
            ttft,
        )
        yield GaugeMetricFamily(
            "switchpoint_in_flight_requests",
            "Client requests being answered now.",
            value=m.in_flight,
        )
        yield _histograms(
            "switchpoint_gc_pause_seconds",
            "How long each garbage collection stopped the gateway (every request and stream "
            "waits meanwhile), by generation. Long young-generation pauses come with many "
            "concurrent streams: see docs/performance.md.",
            ["generation"],
            {(generation,): pauses for generation, pauses in m.gc_pauses.items()},
        )
        yield _histograms(
            "switchpoint_event_loop_lag_seconds",
            "How late the event loop ran a timer, sampled ten times a second: what any "
            "request or stream chunk waited for the worker at that moment.",
            [],
            {(): m.loop_lag},
        )
        yield _counters(
            "switchpoint_shed_requests_total",
            "Chat calls refused (503, or 529 to Anthropic clients) because the worker was "
            "overloaded: too many in flight, or its event loop running too late.",
            ["reason"],
            {(reason,): m.shed.get(reason, 0) for reason in SHED_REASONS},
        )
        yield _histograms(
            "switchpoint_effective_max_tokens",
            "The routing decision's effective max tokens (the seed's effectiveMaxTokens): the "
            "context size a request was routed for, capped at the chosen profile's context.",
            ["workload"],
            {(workload,): w.effective_max_tokens for workload, w in m.workloads.items()},
        )
        yield _counters(
            "switchpoint_routing_rules_total",
            "Routing rules that fired (context_guard, context_fit, budget_fallback, ...).",
            ["workload", "rule"],
            {
                (workload, rule): count
                for workload, w in m.workloads.items()
                for rule, count in w.rules.items()
            },
        )
        fallbacks = dict.fromkeys(FALLBACK_REASONS, 0)
        fallbacks.update(m.fallbacks)
        yield _counters(
            "switchpoint_fallbacks",
            "Moves from one profile to another, by reason: at routing (context_guard, budget, "
            "context_fit, provider_unavailable, summarization: a summarization failed) or "
            "during execution (breaker_open, context_length, upstream_error).",
            ["reason"],
            {(reason,): count for reason, count in fallbacks.items()},
        )
        yield _counters(
            "switchpoint_fallback_requests_total",
            "Requests served by a profile other than the workload they asked for.",
            ["workload"],
            {(workload,): w.fallback_requests for workload, w in m.workloads.items()},
        )
        attempts: dict[tuple[str, ...], int] = {}
        durations: dict[tuple[str, ...], Histogram] = {}
        tokens: dict[tuple[str, ...], int] = {}
        cost: dict[tuple[str, ...], float] = {}
        unpriced: dict[tuple[str, ...], int] = {}
        for (workload, provider, model), per_attempt in m.attempts.items():
            for outcome, count in per_attempt.outcomes.items():
                _add(attempts, (provider, model, outcome), count)
            _add_histogram(durations, (provider, model), per_attempt.duration)
            for kind, count in (
                ("input", per_attempt.input),
                ("cached", per_attempt.cached),
                ("cache_write", per_attempt.cache_write),
                ("output", per_attempt.output),
            ):
                if count:
                    _add(tokens, (model, workload, kind), count)
            if per_attempt.cost_usd or not per_attempt.unpriced:
                _add(cost, (model, workload), per_attempt.cost_usd)
            if per_attempt.unpriced:
                _add(unpriced, (model,), per_attempt.unpriced)
        yield _counters(
            "switchpoint_upstream_attempts_total",
            "Attempts sent to providers, by outcome: ok or the failure kind (rate_limited, "
            "overloaded, server_error, timeout, truncated, ...).",
            ["provider", "model", "outcome"],
            attempts,
        )
        yield _histograms(
            "switchpoint_upstream_attempt_duration_seconds",
            "Provider latency: one attempt, from sending it to its end.",
            ["provider", "model"],
            durations,
        )
        yield from self._resilience(m)
        yield from self._summarizations(m)
        yield _counters(
            "switchpoint_tokens_total",
            "Tokens consumed, by kind: input (uncached prompt), cached (prompt read from the "
            "provider's cache), cache_write, output. Kinds are disjoint.",
            ["model", "workload", "kind"],
            tokens,
        )
        yield _counters(
            "switchpoint_cost_usd_total",
            "Cost in USD of the tokens consumed, at the configured prices.",
            ["model", "workload"],
            cost,
        )
        yield _counters(
            "switchpoint_unpriced_attempts_total",
            "Attempts whose cost is unknown: tokens on a model without a configured price, "
            "or an answer whose provider reported no usage.",
            ["model"],
            unpriced,
        )
        states = self.breaker_states()
        breaker = GaugeMetricFamily(
            "switchpoint_circuit_breaker_state",
            "Circuit breaker per target: 0 closed, 1 half-open, 2 open.",
            labels=["provider", "model"],
        )
        for target in dict.fromkeys([*self._targets(), *states]):
            breaker.add_metric(list(target), BREAKER_STATE_VALUES[states.get(target, "closed")])
        yield breaker
        yield _counters(
            "switchpoint_circuit_breaker_transitions_total",
            "Circuit breaker state changes.",
            ["provider", "model", "from", "to"],
            m.breaker_transitions,
        )

    def _resilience(self, metrics: GatewayMetrics) -> Iterator[Metric]:
        by_name: dict[str, dict[tuple[str, ...], int]] = {name: {} for name in RESILIENCE_FAMILIES}
        other: dict[tuple[str, ...], int] = {}
        for (name, provider, model, reason), count in metrics.resilience.items():
            family = RESILIENCE_FAMILIES.get(name)
            if family is not None:
                key = (provider, model, reason) if family[2] else (provider, model)
                _add(by_name[name], key, count)
            elif name not in _COUNTED_ELSEWHERE:
                _add(other, (name, provider, model, reason), count)
        for name, (metric, documentation, reason_label) in RESILIENCE_FAMILIES.items():
            labels = ["provider", "model", *([reason_label] if reason_label else [])]
            yield _counters(metric, documentation, labels, by_name[name])
        yield _counters(
            "switchpoint_resilience_events_total",
            "Other resilience events execution reported, by name.",
            ["event", "provider", "model", "reason"],
            other,
        )


class MetricsExposition:
    """The registry `/metrics` renders: the gateway's collector (summed over workers)
    plus the families of each process (`process_families.py`)."""

    def __init__(self, collector: GatewayCollector) -> None:
        self.collector = collector
        self.process = ProcessFamilies(runtime_sources())
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self.registry.register(self.process)
        PlatformCollector(registry=self.registry)

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition in the format the scraper accepts (text, or OpenMetrics)."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type
