"""Shared harness of the fake upstreams: lifecycle, request pipeline, scripting.

Each fake runs an aiohttp server on its own event loop in a background thread,
bound to 127.0.0.1 on a port the OS picks, so synchronous tests (sync SDK
clients) and async tests (any loop) can use the same fake, and parallel test
processes never collide on a port.

The pipeline for every model request is: read and record, authenticate,
validate, pick the behaviour (scripted fault, persistent mode, or default),
then let the vendor render it and ``wire`` send it. Vendor subclasses supply
only the vendor-specific steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import ssl
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from tests.fakes import wire
from tests.fakes.faults import (
    AcceptThenSilent,
    ConnectionReset,
    ContextLengthExceeded,
    Fault,
    HttpFault,
    IgnoresStream,
    InvalidEvent,
    MalformedBody,
    RawResponse,
    Refusal,
    ServiceUnavailable,
    StreamErrorEvent,
)
from tests.fakes.recording import RecordedRequest, Recorder
from tests.fakes.reply import (
    PrefillMode,
    ReplyPlan,
    ReplySettings,
    RequestSummary,
    plan_reply,
    prompt_tokens_of,
)
from tests.fakes.script import FaultScript

_START_TIMEOUT = 10.0


class Rejection(Exception):
    """Raised by vendor steps to answer at once with a vendor-shaped error."""

    def __init__(self, reply: wire.HttpReply, behaviour: str) -> None:
        super().__init__(behaviour)
        self.reply = reply
        self.behaviour = behaviour


class FakeUpstream(ABC):
    """Base of the vendor fakes. Settings are plain attributes, read afresh for
    every request, so tests may change them at any time."""

    default_api_key: str = ""
    default_prefill: PrefillMode = "continue"

    def __init__(self, *, api_key: str | None = None) -> None:
        self.api_key: str = api_key if api_key is not None else self.default_api_key
        # --- the answer ---
        self.reply_text: str | None = None
        """None means ``"Hello from <model>."``."""
        self.tool_call: tuple[str, dict[str, Any]] | None = None
        self.tool_preamble: str | None = None
        self.prefill: PrefillMode = self.default_prefill
        self.resolved_models: dict[str, str] = {}
        """Requested model -> model name reported back (e.g. a dated snapshot)."""
        # --- usage ---
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.cached_tokens: int = 0
        self.cache_creation_tokens: int = 0
        self.reasoning_tokens: int = 0
        # --- models ---
        self.known_models: set[str] | None = None
        """When set, other models get the vendor's 404 model-not-found."""
        self.context_windows: dict[str, int] = {}
        """Model -> context window; larger prompts get the vendor's context error."""
        # --- timing ---
        self.stream_chunks: int = 3
        self.chunk_gap: float = 0.0
        self.header_delay: float = 0.0
        self.first_event_delay: float = 0.0

        self._recorder = Recorder()
        self._script = FaultScript()
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None
        self._port: int | None = None
        self.tls: ssl.SSLContext | None = None
        """Set before `start()`: serve HTTPS with this context (the origin becomes
        ``https://127.0.0.1:<port>``)."""

    # ------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name=f"{type(self).__name__}-loop", daemon=True
        )
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._serve(), loop)
        self._port = future.result(_START_TIMEOUT)
        return self

    async def _serve(self) -> int:
        self._closing = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        self._add_routes(app)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self.tls)
        await site.start()
        self._runner = runner
        port: int = runner.addresses[0][1]
        return port

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(_START_TIMEOUT)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_START_TIMEOUT)
        loop.close()
        self._loop = self._thread = None
        self._port = None

    async def _shutdown(self) -> None:
        if self._closing is not None:
            self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        return self._port

    @property
    def cpu_seconds(self) -> float:
        """CPU time consumed so far by the fake's event-loop thread.

        This is the fake's own cost. A request's wall time (``server_seconds``)
        also counts waiting for the GIL while in-process clients run, which on
        a loaded machine says nothing about the fake.
        """
        if self._thread is None or self._thread.ident is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        return time.clock_gettime(time.pthread_getcpuclockid(self._thread.ident))

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>`` (``https`` when serving TLS), with no path."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    @abstractmethod
    def base_url(self) -> str:
        """The base URL to hand to the vendor's official SDK."""

    # ------------------------------------------------------------ scripting

    def enqueue(self, *faults: Fault, model: str | None = None) -> None:
        """Queue one-shot faults, taken in order by the next matching requests."""
        self._script.enqueue(*faults, model=model)

    def set_mode(self, fault: Fault, *, model: str | None = None) -> None:
        """Apply ``fault`` to every matching request until ``clear_mode``."""
        self._script.set_mode(fault, model)

    def clear_mode(self, *, model: str | None = None) -> None:
        self._script.clear_mode(model)

    def down(self, *, model: str | None = None, fault: Fault | None = None) -> None:
        """Persistent outage (503 by default) until ``up``."""
        self._script.set_mode(fault or ServiceUnavailable(), model)

    def up(self, *, model: str | None = None) -> None:
        self._script.clear_mode(model)

    def reset_faults(self) -> None:
        """Forget queued faults and all modes."""
        self._script.reset()

    @property
    def pending_faults(self) -> list[Fault]:
        return self._script.pending()

    # ------------------------------------------------------------ recording

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        return self._recorder.snapshot()

    @property
    def last_request(self) -> RecordedRequest:
        requests = self._recorder.snapshot()
        if not requests:
            raise AssertionError(f"{type(self).__name__} has received no request")
        return requests[-1]

    def request_count(self, model: str | None = None) -> int:
        return self._recorder.count(model)

    def clear(self) -> None:
        """Forget recorded requests (faults and settings are kept)."""
        self._recorder.clear()

    def wait_for_requests(self, count: int, timeout: float = 2.0) -> bool:
        return self._recorder.wait_for(count, timeout)

    # ------------------------------------------------------------ vendor hooks

    @abstractmethod
    def _add_routes(self, app: web.Application) -> None: ...

    @abstractmethod
    def _base_headers(self) -> dict[str, str]:
        """Headers the vendor puts on every answer (request ids and the like)."""

    @abstractmethod
    def _error_reply(self, fault: HttpFault, summary: RequestSummary) -> wire.HttpReply:
        """Render an HTTP-level fault in the vendor's shape."""

    @abstractmethod
    def _not_found_reply(self, request: web.Request) -> wire.HttpReply: ...

    @abstractmethod
    def _unknown_model_reply(self, summary: RequestSummary) -> wire.HttpReply: ...

    @abstractmethod
    def _prefill_rejection(self, summary: RequestSummary) -> wire.HttpReply: ...

    @abstractmethod
    def _invalid_request_reply(self, message: str) -> wire.HttpReply:
        """The vendor's 400 for a request body it cannot read."""

    @abstractmethod
    def _render_body(self, plan: ReplyPlan, summary: RequestSummary) -> dict[str, Any]: ...

    @abstractmethod
    def _render_frames(
        self, plan: ReplyPlan, summary: RequestSummary, request: RecordedRequest
    ) -> list[wire.Frame]: ...

    @abstractmethod
    def _stream_error_frame(self, kind: str, summary: RequestSummary, events_before: int) -> bytes:
        """The vendor's in-stream error event. ``events_before`` is how many events
        precede it: OpenAI's Responses API numbers its events, the error included."""

    def _invalid_frame(self, payload: str, summary: RequestSummary) -> bytes:
        return f"data: {payload}\n\n".encode()

    def _stream_content_type(self, summary: RequestSummary) -> str:
        return "text/event-stream; charset=utf-8"

    # ------------------------------------------------------------ pipeline

    def next_id(self) -> int:
        return next(self._ids)

    async def _record(self, request: web.Request) -> RecordedRequest:
        raw = await request.read()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        headers: dict[str, str] = {}
        for key, value in request.headers.items():
            name = key.lower()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=headers,
            raw_body=raw,
            body=body,
            arrived_at=time.monotonic(),
            peer=_peer(request),
        )
        self._recorder.add(record)
        return record

    def _settings(self) -> ReplySettings:
        return ReplySettings(
            reply_text=self.reply_text,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cached_tokens=self.cached_tokens,
            cache_creation_tokens=self.cache_creation_tokens,
            reasoning_tokens=self.reasoning_tokens,
            stream_chunks=self.stream_chunks,
            tool_call=self.tool_call,
            tool_preamble=self.tool_preamble,
            prefill=self.prefill,
            resolved_models=dict(self.resolved_models),
        )

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        record = await self._record(request)
        record.behaviour = "not_found"
        return await self._send(request, record, self._not_found_reply(request), None)

    async def _send(
        self,
        request: web.Request,
        record: RecordedRequest,
        reply: wire.HttpReply,
        fault: Fault | None,
    ) -> web.StreamResponse:
        try:
            return await wire.send_reply(
                request,
                record,
                reply,
                base_headers=self._base_headers(),
                fault=fault,
                closing=self._closing_event(),
                header_delay=self.header_delay,
            )
        finally:
            record.mark_finished()

    def _closing_event(self) -> asyncio.Event:
        assert self._closing is not None
        return self._closing

    async def _serve_model_request(
        self,
        request: web.Request,
        record: RecordedRequest,
        summarize: Callable[[RecordedRequest], RequestSummary],
    ) -> web.StreamResponse:
        """Run the shared pipeline after the vendor has recorded the request.

        ``summarize`` is the vendor's function from the record to a
        ``RequestSummary``; it raises ``Rejection`` for auth or validation
        failures, which are answered before any fault is considered.
        """
        try:
            summary = summarize(record)
            record.model = summary.model
            record.stream = summary.stream
            if self.known_models is not None and summary.model not in self.known_models:
                raise Rejection(self._unknown_model_reply(summary), "unknown_model")
        except Rejection as rejection:
            record.behaviour = rejection.behaviour
            return await self._send(request, record, rejection.reply, None)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # A field of the wrong shape somewhere: the vendors answer that with a 400.
            record.behaviour = "invalid"
            reply = self._invalid_request_reply(f"invalid request body: {exc}")
            return await self._send(request, record, reply, None)

        fault = self._script.take(summary.model, stream=summary.stream)
        if fault is not None:
            record.behaviour = fault.name
        try:
            return await self._perform(request, record, summary, fault)
        finally:
            record.mark_finished()

    async def _perform(
        self,
        request: web.Request,
        record: RecordedRequest,
        summary: RequestSummary,
        fault: Fault | None,
    ) -> web.StreamResponse:
        closing = self._closing_event()
        if isinstance(fault, ConnectionReset):
            wire.reset_connection(request)
            return web.Response(status=499)
        if isinstance(fault, AcceptThenSilent):
            await wire.wait_client_or_close(request, record, closing)
            wire.close_connection(request)
            return web.Response(status=499)
        if isinstance(fault, RawResponse):
            reply = wire.HttpReply(
                fault.status,
                fault.body,
                fault.content_type,
                dict(fault.headers) or None,
                chunked=fault.chunked,
            )
            return await self._send(request, record, reply, fault)
        if isinstance(fault, HttpFault):
            return await self._send(request, record, self._error_reply(fault, summary), fault)

        window = self.context_windows.get(summary.model)
        if window is not None and prompt_tokens_of(summary, self._settings()) > window:
            record.behaviour = "context_window"
            reply = self._error_reply(ContextLengthExceeded(limit=window), summary)
            return await self._send(request, record, reply, None)

        if summary.trailing_assistant is not None and self.prefill == "reject":
            record.behaviour = "prefill_rejected"
            return await self._send(request, record, self._prefill_rejection(summary), None)

        plan = plan_reply(
            summary,
            self._settings(),
            tool_call_id=self._tool_call_id(),
            refusal=isinstance(fault, Refusal),
        )
        if not summary.stream or isinstance(fault, IgnoresStream):
            body = json.dumps(self._render_body(plan, summary)).encode()
            if isinstance(fault, MalformedBody):
                body = body[: max(1, len(body) // 2)]
            return await self._send(request, record, wire.HttpReply(200, body), fault)

        frames = self._render_frames(plan, summary, record)
        return await wire.send_stream(
            request,
            record,
            frames,
            base_headers=self._base_headers(),
            content_type=self._stream_content_type(summary),
            fault=fault,
            closing=closing,
            header_delay=self.header_delay,
            first_event_delay=self.first_event_delay,
            chunk_gap=self.chunk_gap,
            invalid_frame=(
                self._invalid_frame(fault.payload, summary)
                if isinstance(fault, InvalidEvent)
                else None
            ),
            invalid_after=fault.after if isinstance(fault, InvalidEvent) else 0,
            error_frame=(
                self._stream_error_frame(fault.kind, summary, min(fault.after, len(frames)))
                if isinstance(fault, StreamErrorEvent)
                else None
            ),
            error_after=fault.after if isinstance(fault, StreamErrorEvent) else 0,
        )

    @abstractmethod
    def _tool_call_id(self) -> str: ...

    def _context_numbers(
        self, fault: ContextLengthExceeded, summary: RequestSummary
    ) -> tuple[int, int]:
        """(prompt tokens, limit) to quote in a context-length error; the
        prompt is bumped past the limit so the message is never self-contradictory."""
        tokens = prompt_tokens_of(summary, self._settings())
        limit = fault.limit
        if limit is None:
            limit = self.context_windows.get(summary.model, max(0, tokens - 1))
        return max(tokens, limit + 1), limit


def _peer(request: web.Request) -> str | None:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else None


def json_reply(
    status: int, payload: Any, headers: Mapping[str, str] | None = None
) -> wire.HttpReply:
    return wire.HttpReply(status, json.dumps(payload).encode(), "application/json", headers)
