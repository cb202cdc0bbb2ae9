"""Traces: spans after the fact from finished calls, traceparent continued, OTLP export."""

from __future__ import annotations

import asyncio
import gzip
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from switchpoint.chat.usage import Usage
from switchpoint.execution.records import SKIPPED_OPEN, AttemptRecord, CallRecord
from switchpoint.observability.trace_config import otlp_traces_endpoint
from switchpoint.observability.tracing import TraceExporter
from switchpoint.server.background import BackgroundServer
from tests.fakes import CutAfter, OpenAIFake, ServerError
from tests.ledger.test_gateway_costs import VENDORS, vendor_gateway
from tests.observability.stack import client, gateway_config, running_gateway, scrape, value

ROOT = Path(__file__).resolve().parents[2]
USER: list[Any] = [{"role": "user", "content": "hello"}]
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@pytest.fixture
def backup_fake() -> Iterator[OpenAIFake]:
    with OpenAIFake() as fake:
        yield fake


def traced(server: BackgroundServer) -> InMemorySpanExporter:
    memory = InMemorySpanExporter()
    assert server.gateway is not None
    server.gateway.bus.subscribe(TraceExporter(SimpleSpanProcessor(memory)))
    return memory


def wait_spans(memory: InMemorySpanExporter, count: int) -> list[Any]:
    deadline = time.monotonic() + 10
    while len(memory.get_finished_spans()) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return list(memory.get_finished_spans())


def test_one_server_span_per_request_with_a_child_per_attempt(
    openai_fake: OpenAIFake, backup_fake: OpenAIFake
) -> None:
    openai_fake.input_tokens, openai_fake.output_tokens, openai_fake.cached_tokens = 50, 7, 10
    openai_fake.enqueue(ServerError())
    config = gateway_config(openai_fake, backup_fake, fallback={"max_retries": 1})
    with running_gateway(config) as server:
        memory = traced(server)
        client(server).chat.completions.create(
            model="primary",
            messages=USER,
            extra_headers={
                "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01",
                "tracestate": "vendor=abc",
            },
        )
        spans = wait_spans(memory, 3)
    assert len(spans) == 3
    roots = [s for s in spans if s.kind == SpanKind.SERVER]
    assert len(roots) == 1
    root = roots[0]
    # The incoming trace is continued: same trace id, the caller's span as parent.
    assert format(root.context.trace_id, "032x") == TRACE_ID
    assert root.parent is not None and format(root.parent.span_id, "016x") == PARENT_ID
    assert root.parent.is_remote
    assert root.context.trace_state.get("vendor") == "abc"
    assert root.name == "chat primary"
    attrs = root.attributes
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "gpt-primary"
    assert attrs["gen_ai.response.model"] == "gpt-primary"
    assert attrs["gen_ai.provider.name"] == "main"
    assert attrs["gen_ai.usage.input_tokens"] == 50
    assert attrs["gen_ai.usage.output_tokens"] == 7
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 10
    assert attrs["switchpoint.workload"] == "primary"
    assert attrs["switchpoint.attempts"] == 2
    assert attrs["http.response.status_code"] == 200
    assert str(attrs["switchpoint.request_id"]).startswith("sp-")
    children = sorted((s for s in spans if s.kind == SpanKind.CLIENT), key=lambda s: s.start_time)
    assert [c.name for c in children] == ["chat gpt-primary", "chat gpt-primary"]
    assert [c.attributes["switchpoint.attempt.reason"] for c in children] == ["first", "retry"]
    assert children[0].attributes["error.type"] == "server_error"
    assert children[0].status.status_code == StatusCode.ERROR
    assert children[1].attributes["gen_ai.usage.output_tokens"] == 7
    for child in children:
        assert child.parent is not None and child.parent.span_id == root.context.span_id
        assert child.context.trace_id == root.context.trace_id
        assert root.start_time <= child.start_time <= child.end_time <= root.end_time
    assert children[0].end_time <= children[1].start_time
    # Wall-clock times: the span started within the last minute.
    assert abs(root.start_time / 1e9 - time.time()) < 60


def test_failed_request_and_a_new_trace_without_traceparent(
    openai_fake: OpenAIFake, backup_fake: OpenAIFake
) -> None:
    openai_fake.down(model="gpt-primary")
    backup_fake.down(model="gpt-backup")
    with running_gateway(gateway_config(openai_fake, backup_fake)) as server:
        memory = traced(server)
        with pytest.raises(Exception):  # noqa: B017 - the SDK's error class is not the point
            client(server).chat.completions.create(
                model="primary", messages=USER, extra_headers={"traceparent": "garbage"}
            )
        spans = wait_spans(memory, 3)
    root = next(s for s in spans if s.kind == SpanKind.SERVER)
    assert root.parent is None  # an invalid traceparent starts a new trace
    assert root.status.status_code == StatusCode.ERROR
    assert root.attributes["error.type"] == "overloaded"
    assert root.attributes["switchpoint.fallback_reasons"] == ("overloaded",)  # one move
    assert len([s for s in spans if s.kind == SpanKind.CLIENT]) == 2


class Collector:
    """A minimal OTLP/HTTP traces receiver on 127.0.0.1: decodes what it is sent."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        message = ExportTraceServiceRequest()
        message.ParseFromString(body)
        self.requests.append(message)
        return web.Response(body=b"", content_type="application/x-protobuf")

    async def _start(self) -> int:
        app = web.Application()
        app.router.add_post("/v1/traces", self._receive)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return int(self._runner.addresses[0][1])

    def __enter__(self) -> Collector:
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._runner is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def spans(self) -> list[Any]:
        return [
            span
            for request in self.requests
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]


def test_spans_reach_an_otlp_collector_named_by_the_standard_variable(
    openai_fake: OpenAIFake, backup_fake: OpenAIFake
) -> None:
    with Collector() as collector:
        environ = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.port}",
            "OTEL_BSP_SCHEDULE_DELAY": "50",
        }
        with running_gateway(gateway_config(openai_fake, backup_fake), environ) as server:
            client(server).chat.completions.create(model="primary", messages=USER)
            deadline = time.monotonic() + 10
            while len(collector.spans()) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            samples = scrape(server)
        spans = collector.spans()
        resource = collector.requests[0].resource_spans[0].resource
    assert sorted(s.name for s in spans) == ["chat gpt-primary", "chat primary"]
    names = {a.key: a.value.string_value for a in resource.attributes}
    assert names["service.name"] == "switchpoint"
    child = next(s for s in spans if s.name == "chat gpt-primary")
    attributes = {a.key for a in child.attributes}
    assert {"gen_ai.request.model", "gen_ai.provider.name", "gen_ai.usage.input_tokens"} <= (
        attributes
    )
    assert value(samples, "switchpoint_trace_spans_exported_total") >= 2
    assert value(samples, "switchpoint_trace_export_failures_total") == 0


def test_an_unreachable_collector_costs_a_counter_not_requests(
    openai_fake: OpenAIFake, backup_fake: OpenAIFake, refused_port: int
) -> None:
    environ = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{refused_port}/v1/traces",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "0.5",
    }
    with running_gateway(gateway_config(openai_fake, backup_fake), environ) as server:
        sdk = client(server)
        for _ in range(3):
            sdk.chat.completions.create(model="primary", messages=USER)
        deadline = time.monotonic() + 15
        while True:
            samples = scrape(server)
            failures = value(samples, "switchpoint_trace_export_failures_total")
            if failures >= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert failures >= 1
    assert (
        value(
            samples,
            "switchpoint_requests_total",
            workload="primary",
            profile="primary",
            provider="main",
            model="gpt-primary",
            status="ok",
        )
        == 3
    )


def test_the_endpoint_comes_from_the_standard_variables() -> None:
    assert otlp_traces_endpoint({}) is None
    assert otlp_traces_endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}) == (
        "http://c:4318/v1/traces"
    )
    assert (
        otlp_traces_endpoint(
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:9999/traces",
            }
        )
        == "http://t:9999/traces"
    )
    assert (
        otlp_traces_endpoint(
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}
        )
        is None
    )
    assert (
        otlp_traces_endpoint(
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}
        )
        is None
    )


def test_tracing_off_loads_no_opentelemetry() -> None:
    """Off by default, and free when off: a configured gateway imports no OTel SDK."""
    code = (
        "import os, sys\n"
        "for k in [k for k in os.environ if k.startswith('OTEL_')]: del os.environ[k]\n"
        "from switchpoint.config.loader import load_config\n"
        "from switchpoint.gateway import Gateway\n"
        "g = Gateway(load_config(None))\n"
        "print(any(m.startswith('opentelemetry') for m in sys.modules))\n"
        "print(type(g.bus._listeners[-1]).__name__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    loaded, last = result.stdout.split()
    assert loaded == "False"
    assert last != "TraceExporter"


def finished_call(traceparent: str | None = None) -> CallRecord:
    """A call of half a second that started at perf-counter 10, with no attempts yet."""
    return CallRecord(
        request_id="sp-1",
        protocol="openai",
        stream=False,
        started_wall=time.time(),
        started_at=10.0,
        workload="w",
        duration_s=0.5,
        traceparent=traceparent,
    )


def test_sampling_follows_the_standard_variables_and_the_caller() -> None:
    from switchpoint.observability.tracing import sampler_from

    def finished(traceparent: str | None) -> CallRecord:
        record = finished_call(traceparent)
        attempt = AttemptRecord("w", "p", "m", "first", 10.1, duration_s=0.3, usage=Usage(5, 1))
        record.attempts.append(attempt)
        record.served = attempt
        return record

    def spans_of(environ: dict[str, str], traceparent: str | None) -> int:
        memory = InMemorySpanExporter()
        exporter = TraceExporter(SimpleSpanProcessor(memory), sampler=sampler_from(environ))
        exporter.record(finished(traceparent))
        return len(memory.get_finished_spans())

    sampled = f"00-{TRACE_ID}-{PARENT_ID}-01"
    unsampled = f"00-{TRACE_ID}-{PARENT_ID}-00"
    assert spans_of({}, None) == 2
    assert spans_of({}, sampled) == 2
    assert spans_of({}, unsampled) == 0  # the caller decided not to sample this trace
    assert spans_of({"OTEL_TRACES_SAMPLER": "always_off"}, None) == 0
    assert (
        spans_of({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}, None) == 0
    )
    assert spans_of({"OTEL_TRACES_SAMPLER": "nonsense"}, None) == 2


def test_the_start_up_log_names_the_collector_without_its_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from switchpoint.observability.tracing import otlp_trace_exporter

    endpoint = "https://tenant:otelSECRET@collector.example:4318/v1/traces?token=t0ken"
    with caplog.at_level("INFO", logger="switchpoint"):
        exporter = otlp_trace_exporter({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint})
    assert exporter is not None
    exporter.processor.shutdown()
    logged = caplog.text
    assert "collector.example:4318/v1/traces" in logged
    assert "otelSECRET" not in logged and "t0ken" not in logged


def test_a_target_skipped_for_its_open_breaker_is_no_failed_client_call() -> None:
    record = finished_call()
    skipped = AttemptRecord("w", "p", "m-open", "first", 10.0, outcome=SKIPPED_OPEN)
    served = AttemptRecord("b", "q", "m-ok", "fallback", 10.1, duration_s=0.3, usage=Usage(5, 1))
    record.attempts += [skipped, served]
    record.served = served
    memory = InMemorySpanExporter()
    TraceExporter(SimpleSpanProcessor(memory)).record(record)
    spans = {s.name: s for s in memory.get_finished_spans()}
    skip = spans["chat m-open"]
    # No request left, so no client span; and an open breaker working is not an error.
    assert skip.kind == SpanKind.INTERNAL
    assert skip.status.status_code == StatusCode.UNSET
    assert "error.type" not in skip.attributes
    assert skip.attributes["switchpoint.attempt.outcome"] == SKIPPED_OPEN
    assert spans["chat m-ok"].kind == SpanKind.CLIENT


def test_attempt_spans_add_up_to_the_call_span_and_say_what_was_estimated(
    tmp_path: Path,
) -> None:
    """A Claude stream cut mid-answer and continued: the cut attempt's usage is partly
    switchpoint's estimate. Each attempt span carries all of its usage (cache writes
    included), so the attempts' spans sum to the call's, and both say what is estimated."""
    vendor = next(v for v in VENDORS if v.provider_type == "anthropic")
    with vendor_gateway(vendor, f"sqlite:///{tmp_path / 'ledger.db'}") as (server, fake):
        fake.input_tokens, fake.cached_tokens, fake.cache_creation_tokens = 5000, 1000, 500
        fake.reply_text = " ".join(f"w{i}" for i in range(40))
        fake.stream_chunks = 10
        fake.enqueue(CutAfter(events=6))
        memory = traced(server)
        chunks = list(
            client(server).chat.completions.create(model="auto", messages=USER, stream=True)
        )
        assert chunks
        spans = wait_spans(memory, 3)
    [root] = [s for s in spans if s.kind == SpanKind.SERVER]
    attempts = sorted((s for s in spans if s.kind == SpanKind.CLIENT), key=lambda s: s.start_time)
    assert [a.attributes["switchpoint.attempt.reason"] for a in attempts] == [
        "first",
        "continuation",
    ]
    cut, continuation = attempts
    assert cut.attributes["switchpoint.usage_estimated"] is True
    assert "switchpoint.usage_estimated" not in continuation.attributes
    assert root.attributes["switchpoint.usage_estimated"] is True
    assert cut.attributes["gen_ai.usage.cache_creation.input_tokens"] == 500
    for name in (
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_creation.input_tokens",
        "switchpoint.cost_usd",
    ):
        assert root.attributes[name] == pytest.approx(sum(a.attributes[name] for a in attempts))
