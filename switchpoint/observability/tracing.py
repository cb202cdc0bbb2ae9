"""OpenTelemetry traces of finished calls: one server span per request, one client span
per upstream attempt, with the GenAI semantic-convention attribute names.

Spans are made after the fact from the `CallRecord` the bus delivers, with explicit
start and end times, so the request path pays nothing but appending the record to a
list; spans are built in batches off a timer and exported by OpenTelemetry's
BatchSpanProcessor on its own thread. Tracing is off unless an OTLP endpoint is
configured (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), and
when it is off none of this module's OpenTelemetry imports are even loaded.
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
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client.core import CounterMetricFamily, Metric

from switchpoint import __version__
from switchpoint.events import Listener
from switchpoint.execution.records import CallRecord
from switchpoint.observability.trace_config import otlp_traces_endpoint

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
        self._clock = clock
        self._last_log = float("-inf")
        self._unlogged = 0

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
        self._unlogged += 1
        now = self._clock()
        if now - self._last_log >= _LOG_EVERY_S:
            log.warning(
                "trace export failed (%d batch(es) since the last report%s); spans are "
                "dropped and counted in switchpoint_trace_export_failures_total",
                self._unlogged,
                f", last error {error}" if error else "",
            )
            self._last_log = now
            self._unlogged = 0
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


class TraceExporter(Listener):
    """Turns finished calls into spans on `provider`."""

    def __init__(
        self, provider: TracerProvider, exporter: CountingExporter | None = None
    ) -> None:
        self.provider = provider
        self.exporter = exporter
        self._tracer = provider.get_tracer("switchpoint", __version__)
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

    def record(self, call: CallRecord) -> None:
        """The spans of one call."""
        parent = Context()
        if call.traceparent:
            carrier = {"traceparent": call.traceparent}
            if call.tracestate:
                carrier["tracestate"] = call.tracestate
            parent = _PROPAGATOR.extract(carrier)  # an invalid header starts a new trace
        decision = call.decision
        workload = call.workload or "unknown"
        served = call.served
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "switchpoint.request_id": call.request_id,
            "switchpoint.protocol": call.protocol,
            "switchpoint.workload": workload,
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
                attributes["switchpoint.rules"] = list(decision.rules)
        if served is not None:
            attributes["gen_ai.provider.name"] = served.provider
            attributes["gen_ai.response.model"] = served.model
        if call.fallback_reasons:
            attributes["switchpoint.fallback_reasons"] = list(call.fallback_reasons)
        if call.task_id:
            attributes["switchpoint.task_id"] = call.task_id
        usage = call.usage
        if call.attempts and any(a.usage is not None for a in call.attempts):
            attributes["gen_ai.usage.input_tokens"] = usage.input_tokens
            attributes["gen_ai.usage.output_tokens"] = usage.output_tokens
            attributes["gen_ai.usage.cache_read.input_tokens"] = usage.cached_input_tokens
            attributes["gen_ai.usage.cache_creation.input_tokens"] = usage.cache_write_tokens
        cost = call.cost_usd
        if cost is not None and call.attempts:
            attributes["switchpoint.cost_usd"] = cost
        if call.ttft_s is not None:
            attributes["switchpoint.time_to_first_token_s"] = call.ttft_s
        if call.error_kind:
            attributes["error.type"] = call.error_kind
        name = f"chat {decision.requested_profile}" if decision else "chat"
        root = self._tracer.start_span(
            name,
            context=parent,
            kind=SpanKind.SERVER,
            attributes=attributes,
            start_time=_ns(call.started_wall, 0.0),
        )
        if call.status in ("client_error", "upstream_error"):
            root.set_status(Status(StatusCode.ERROR, call.error_kind or call.status))
        inside = trace.set_span_in_context(root, parent)
        for attempt in call.attempts:
            offset = attempt.started_at - call.started_at
            child_attributes: dict[str, Any] = {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": attempt.provider,
                "gen_ai.request.model": attempt.model,
                "switchpoint.profile": attempt.profile,
                "switchpoint.attempt.reason": attempt.reason,
                "switchpoint.attempt.outcome": attempt.outcome,
            }
            if attempt.ok:
                child_attributes["gen_ai.response.model"] = attempt.model
            if attempt.status is not None:
                child_attributes["http.response.status_code"] = attempt.status
            if attempt.ttft_s is not None:
                child_attributes["switchpoint.time_to_first_token_s"] = attempt.ttft_s
            if attempt.usage is not None:
                child_attributes["gen_ai.usage.input_tokens"] = attempt.usage.input_tokens
                child_attributes["gen_ai.usage.output_tokens"] = attempt.usage.output_tokens
                child_attributes["gen_ai.usage.cache_read.input_tokens"] = (
                    attempt.usage.cached_input_tokens
                )
            if attempt.cost_usd is not None:
                child_attributes["switchpoint.cost_usd"] = attempt.cost_usd
            if not attempt.ok:
                child_attributes["error.type"] = attempt.outcome
            span = self._tracer.start_span(
                f"chat {attempt.model}",
                context=inside,
                kind=SpanKind.CLIENT,
                attributes=child_attributes,
                start_time=_ns(call.started_wall, offset),
            )
            if not attempt.ok:
                span.set_status(Status(StatusCode.ERROR, attempt.error or attempt.outcome))
            span.end(end_time=_ns(call.started_wall, offset + attempt.duration_s))
        root.end(end_time=_ns(call.started_wall, call.duration_s))

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
        await asyncio.to_thread(self.provider.shutdown)


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
    provider = TracerProvider(resource=_resource(environ))
    provider.add_span_processor(
        BatchSpanProcessor(
            exporter, schedule_delay_millis=_float(environ, "OTEL_BSP_SCHEDULE_DELAY")
        )
    )
    log.info("exporting traces to %s", endpoint)
    return TraceExporter(provider, exporter)
