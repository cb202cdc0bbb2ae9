"""OpenTelemetry traces of finished calls: one server span per request, one client span
per upstream attempt, with the GenAI semantic-convention attribute names.

Spans are made after the fact from the `CallRecord` the bus delivers, with explicit
start and end times, so the request path pays nothing but appending the record to a
list; spans are built in batches off a timer and exported by OpenTelemetry's
BatchSpanProcessor on its own thread. They are built as finished `ReadableSpan`s and
handed to the span processor directly: the SDK's tracer (made for spans that are
started, changed and ended live) costs about seven times as much per span.

Tracing is off unless an OTLP endpoint is configured (`OTEL_EXPORTER_OTLP_ENDPOINT` or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), and when it is off none of this module's
OpenTelemetry imports are even loaded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client.core import CounterMetricFamily, Metric

from switchpoint import __version__
from switchpoint.events import Listener
from switchpoint.execution.records import SKIPPED_OPEN, AttemptRecord, CallRecord
from switchpoint.log_throttle import LogThrottle
from switchpoint.observability.trace_config import otlp_traces_endpoint
from switchpoint.url_redaction import redact_url

log = logging.getLogger("switchpoint.tracing")

_FLUSH_AFTER_S = 0.05
# Calls waiting to become spans; past this (an exporter that cannot keep up) new calls
# are dropped and counted rather than held.
_MAX_PENDING = 10_000
_LOG_EVERY_S = 60.0
_PROPAGATOR = TraceContextTextMapPropagator()
# The exporter's own logger reports every failed batch (and every retry); we count them
# and log at most once a minute instead.
_OTLP_LOGGERS = ("opentelemetry.exporter.otlp", "opentelemetry.exporter.otlp.common")


class CountingExporter(SpanExporter):
    """Wraps the real exporter: counts what it exports and what fails, logs failures at
    most once a minute, and never lets an exception out."""

    def __init__(self, inner: SpanExporter, *, clock: Any = time.monotonic) -> None:
        self.inner = inner
        self.exported_spans = 0
        self.failed_batches = 0
        self.failed_spans = 0
        self._failure_log = LogThrottle(_LOG_EVERY_S, clock)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        error: str | None = None
        try:
            result = self.inner.export(spans)
        except Exception as exc:
            result = SpanExportResult.FAILURE
            error = type(exc).__name__
        if result == SpanExportResult.SUCCESS:
            self.exported_spans += len(spans)
            return result
        self.failed_batches += 1
        self.failed_spans += len(spans)
        unlogged = self._failure_log.due()
        if unlogged is not None:
            log.warning(
                "trace export failed (%d batch(es) since the last report%s); spans are "
                "dropped and counted in switchpoint_trace_export_failures_total",
                unlogged,
                f", last error {error}" if error else "",
            )
        return result

    def shutdown(self) -> None:
        try:
            self.inner.shutdown()
        except Exception:
            log.debug("trace exporter shutdown failed", exc_info=True)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        try:
            return self.inner.force_flush(timeout_millis)
        except Exception:
            return False


def _ns(wall_start: float, offset_s: float) -> int:
    return int((wall_start + offset_s) * 1e9)


_OK = Status(StatusCode.UNSET)
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)


class TraceExporter(Listener):
    """Turns finished calls into spans, handed to `processor` (which exports them)."""

    def __init__(
        self,
        processor: SpanProcessor,
        *,
        resource: Resource | None = None,
        sampler: Sampler | None = None,
        exporter: CountingExporter | None = None,
    ) -> None:
        self.processor = processor
        self.resource = resource if resource is not None else Resource.create({})
        self.sampler = sampler if sampler is not None else ParentBased(ALWAYS_ON)
        self.exporter = exporter
        self._scope = InstrumentationScope("switchpoint", __version__)
        self._ids = RandomIdGenerator()
        self._pending: list[CallRecord] = []
        self._scheduled: asyncio.TimerHandle | None = None
        self.dropped_calls = 0

    def on_call(self, call: CallRecord) -> None:
        if len(self._pending) >= _MAX_PENDING:
            self.dropped_calls += 1
            return
        self._pending.append(call)
        if self._scheduled is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._scheduled = loop.call_later(_FLUSH_AFTER_S, self.flush)

    def flush(self) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        pending, self._pending = self._pending, []
        for call in pending:
            try:
                self.record(call)
            except Exception:
                log.exception("could not build the spans of request %s", call.request_id)

    def _span(
        self,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        attributes: dict[str, Any],
        start: int,
        end: int,
        status: Status,
    ) -> None:
        self.processor.on_end(
            ReadableSpan(
                name,
                context=context,
                parent=parent,
                resource=self.resource,
                attributes=attributes,
                kind=kind,
                status=status,
                start_time=start,
                end_time=end,
                instrumentation_scope=self._scope,
            )
        )

    def record(self, call: CallRecord) -> None:
        """The spans of one call (none if the sampler says so)."""
        parent_context: Context | None = None
        parent: SpanContext | None = None
        if call.traceparent:
            carrier = {"traceparent": call.traceparent}
            if call.tracestate:
                carrier["tracestate"] = call.tracestate
            parent_context = _PROPAGATOR.extract(carrier)
            remote = trace.get_current_span(parent_context).get_span_context()
            # An invalid header starts a new trace.
            parent = remote if remote.is_valid else None
        decision = call.decision
        name = f"chat {decision.requested_profile}" if decision else "chat"
        trace_id = parent.trace_id if parent is not None else self._ids.generate_trace_id()
        attributes = _call_attributes(call)
        sampling = self.sampler.should_sample(
            parent_context if parent is not None else None,
            trace_id,
            name,
            SpanKind.SERVER,
            attributes,
        )
        if sampling.decision != Decision.RECORD_AND_SAMPLE:
            return
        if sampling.attributes:
            attributes.update(sampling.attributes)
        root = SpanContext(
            trace_id,
            self._ids.generate_span_id(),
            is_remote=False,
            trace_flags=_SAMPLED,
            trace_state=sampling.trace_state,
        )
        wall = call.started_wall
        for attempt in call.attempts:
            offset = attempt.started_at - call.started_at
            kind, status = _attempt_kind_and_status(attempt)
            self._span(
                f"chat {attempt.model}",
                SpanContext(
                    trace_id,
                    self._ids.generate_span_id(),
                    is_remote=False,
                    trace_flags=_SAMPLED,
                    trace_state=sampling.trace_state,
                ),
                root,
                kind,
                _attempt_attributes(attempt),
                _ns(wall, offset),
                _ns(wall, offset + attempt.duration_s),
                status,
            )
        failed = call.status in ("client_error", "upstream_error")
        self._span(
            name,
            root,
            parent,
            SpanKind.SERVER,
            attributes,
            _ns(wall, 0.0),
            _ns(wall, call.duration_s),
            Status(StatusCode.ERROR, call.error_kind or call.status) if failed else _OK,
        )

    def metrics(self) -> Iterator[Metric]:
        """This exporter's own health, for `/metrics`."""
        family = CounterMetricFamily(
            "switchpoint_trace_export_failures",
            "Span batches the OTLP exporter failed to deliver (dropped).",
        )
        family.add_metric([], self.exporter.failed_batches if self.exporter else 0)
        yield family
        family = CounterMetricFamily(
            "switchpoint_trace_spans_exported", "Spans delivered to the OTLP collector."
        )
        family.add_metric([], self.exporter.exported_spans if self.exporter else 0)
        yield family
        family = CounterMetricFamily(
            "switchpoint_trace_calls_dropped",
            "Finished calls not traced because too many were waiting to become spans.",
        )
        family.add_metric([], self.dropped_calls)
        yield family

    async def aclose(self) -> None:
        self.flush()
        # Flushing may wait on the collector (up to its timeout): not on the loop.
        await asyncio.to_thread(self.processor.shutdown)


def _call_attributes(call: CallRecord) -> dict[str, Any]:
    decision = call.decision
    served = call.served
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "switchpoint.request_id": call.request_id,
        "switchpoint.protocol": call.protocol,
        "switchpoint.workload": call.workload or "unknown",
        "switchpoint.stream": call.stream,
        "switchpoint.status": call.status,
        "switchpoint.attempts": call.upstream_attempts,
        "switchpoint.fallback": call.fallback,
        "switchpoint.context_tokens": call.context_tokens,
        "http.response.status_code": call.http_status,
    }
    if decision is not None:
        attributes["gen_ai.request.model"] = decision.model
        attributes["switchpoint.profile"] = decision.profile
        attributes["switchpoint.effective_max_tokens"] = decision.effective_max_tokens
        attributes["switchpoint.fallback_triggered"] = decision.fallback_triggered
        attributes["switchpoint.routing_rationale"] = decision.routing_rationale
        if decision.rules:
            attributes["switchpoint.rules"] = tuple(decision.rules)
        attributes["switchpoint.context_action"] = call.context_action or "passed"
    summarization = call.summarization
    if summarization is not None:
        attributes["switchpoint.summarization.outcome"] = summarization.outcome
        attributes["switchpoint.context_tokens_after"] = call.context_tokens_after
    if served is not None:
        attributes["gen_ai.provider.name"] = served.provider
        attributes["gen_ai.response.model"] = served.model
    if call.fallback_reasons:
        attributes["switchpoint.fallback_reasons"] = tuple(call.fallback_reasons)
    if call.task_id:
        attributes["switchpoint.task_id"] = call.task_id
    if any(a.usage is not None for a in call.attempts):
        usage = call.usage
        attributes["gen_ai.usage.input_tokens"] = usage.input_tokens
        attributes["gen_ai.usage.output_tokens"] = usage.output_tokens
        attributes["gen_ai.usage.cache_read.input_tokens"] = usage.cached_input_tokens
        attributes["gen_ai.usage.cache_creation.input_tokens"] = usage.cache_write_tokens
        if any(a.usage_estimated for a in call.attempts):
            # Part of the counts is switchpoint's estimate, not the vendor's report.
            attributes["switchpoint.usage_estimated"] = True
        cost = call.cost_usd
        if cost is not None:
            attributes["switchpoint.cost_usd"] = cost
    if call.ttft_s is not None:
        attributes["switchpoint.time_to_first_token_s"] = call.ttft_s
    if call.error_kind:
        attributes["error.type"] = call.error_kind
    return attributes


def _attempt_kind_and_status(attempt: AttemptRecord) -> tuple[SpanKind, Status]:
    if attempt.outcome == SKIPPED_OPEN:
        # No request left: not a client call, and not an error (the breaker did its job).
        return SpanKind.INTERNAL, _OK
    if attempt.ok:
        return SpanKind.CLIENT, _OK
    return SpanKind.CLIENT, Status(StatusCode.ERROR, attempt.error or attempt.outcome)


def _attempt_attributes(attempt: AttemptRecord) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": attempt.provider,
        "gen_ai.request.model": attempt.model,
        "switchpoint.profile": attempt.profile,
        "switchpoint.attempt.reason": attempt.reason,
        "switchpoint.attempt.outcome": attempt.outcome,
    }
    if attempt.ok:
        attributes["gen_ai.response.model"] = attempt.model
    elif attempt.outcome != SKIPPED_OPEN:
        attributes["error.type"] = attempt.outcome
    if attempt.status is not None:
        attributes["http.response.status_code"] = attempt.status
    if attempt.ttft_s is not None:
        attributes["switchpoint.time_to_first_token_s"] = attempt.ttft_s
    usage = attempt.usage
    if usage is not None:
        attributes["gen_ai.usage.input_tokens"] = usage.input_tokens
        attributes["gen_ai.usage.output_tokens"] = usage.output_tokens
        attributes["gen_ai.usage.cache_read.input_tokens"] = usage.cached_input_tokens
        attributes["gen_ai.usage.cache_creation.input_tokens"] = usage.cache_write_tokens
        if attempt.usage_estimated:
            attributes["switchpoint.usage_estimated"] = True
    if attempt.cost_usd is not None:
        attributes["switchpoint.cost_usd"] = attempt.cost_usd
    return attributes


def sampler_from(environ: Mapping[str, str]) -> Sampler:
    """OTEL_TRACES_SAMPLER (and _ARG), as the SDK reads them; default parent-based on."""
    name = environ.get("OTEL_TRACES_SAMPLER", "parentbased_always_on").strip().lower()
    try:
        ratio = float(environ.get("OTEL_TRACES_SAMPLER_ARG", "1.0"))
    except ValueError:
        ratio = 1.0
    samplers: dict[str, Sampler] = {
        "always_on": ALWAYS_ON,
        "always_off": ALWAYS_OFF,
        "traceidratio": TraceIdRatioBased(ratio),
        "parentbased_always_on": ParentBased(ALWAYS_ON),
        "parentbased_always_off": ParentBased(ALWAYS_OFF),
        "parentbased_traceidratio": ParentBased(TraceIdRatioBased(ratio)),
    }
    sampler = samplers.get(name)
    if sampler is None:
        log.warning("unknown OTEL_TRACES_SAMPLER %r: sampling every trace", name)
        return ParentBased(ALWAYS_ON)
    return sampler


def _float(environ: Mapping[str, str], *names: str) -> float | None:
    raw = next((environ[name] for name in names if environ.get(name)), None)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def _resource(environ: Mapping[str, str]) -> Resource:
    resource = Resource.create({"service.version": __version__})
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": "switchpoint"}))
    return resource


def otlp_trace_exporter(environ: Mapping[str, str]) -> TraceExporter | None:
    """A trace exporter to the configured OTLP endpoint, or None when none is set."""
    endpoint = otlp_traces_endpoint(environ)
    if endpoint is None:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    for name in _OTLP_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    timeout = _float(environ, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")
    exporter = CountingExporter(OTLPSpanExporter(endpoint=endpoint, timeout=timeout))
    processor = BatchSpanProcessor(
        exporter, schedule_delay_millis=_float(environ, "OTEL_BSP_SCHEDULE_DELAY")
    )
    log.info("exporting traces to %s", redact_url(endpoint))
    return TraceExporter(
        processor, resource=_resource(environ), sampler=sampler_from(environ), exporter=exporter
    )
