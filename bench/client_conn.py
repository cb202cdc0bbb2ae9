"""One raw keep-alive HTTP/1.1 client connection that timestamps a response as it arrives.

uvloop + httptools, no framework: the load generator must cost far less per request than
the systems it measures, and must see each byte when it arrives (time to first token and
inter-chunk gaps are read off `data_received`, not off a buffered client API).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from time import perf_counter_ns

import httptools

# SSE events are counted by their `data:` field: OpenAI-shaped streams put exactly one
# in each event. The last 5 bytes of the previous read are kept so that a field or a
# `[DONE]` split across two reads is still found; a whole `data:` in that carry was
# counted already and is not counted again.
_DATA = b"data:"
_DONE = b"[DONE]"


class Exchange:
    """What happened to one request. Times are perf_counter nanoseconds (CLOCK_MONOTONIC)."""

    __slots__ = (
        "body_bytes",
        "done",
        "done_ns",
        "error",
        "event_times",
        "events",
        "first_byte_ns",
        "intended_ns",
        "sent_ns",
        "status",
    )

    def __init__(self, intended_ns: int) -> None:
        self.intended_ns = intended_ns
        self.sent_ns = 0
        self.first_byte_ns = 0
        self.done_ns = 0
        self.status = 0
        self.error: str | None = None
        self.events = 0
        # Arrival time of each SSE event (streams only); several events in one read share it.
        self.event_times: list[int] | None = None
        self.body_bytes = 0
        self.done = False  # saw `data: [DONE]`


class ClientConnection(asyncio.Protocol):
    """Carries one exchange at a time; `on_finish(conn, exchange)` runs when it ends."""

    def __init__(self, on_finish: Callable[[ClientConnection, Exchange], None],
                 track_events: bool) -> None:
        self._on_finish = on_finish
        self._track_events = track_events
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.current: Exchange | None = None
        self.closed = False
        self._carry = b""

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail("upgrade")
        except httptools.HttpParserError as exc:
            self._fail(f"bad response: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        if self.current is not None:
            self._finish_with_error("connection closed")

    # requests
    def send(self, exchange: Exchange, request: bytes) -> None:
        assert self.transport is not None and self.current is None
        self.current = exchange
        self._carry = b""
        if self._track_events:
            exchange.event_times = []
        exchange.sent_ns = perf_counter_ns()
        self.transport.write(request)

    # httptools callbacks
    def on_status(self, status: bytes) -> None:
        if self.current is not None:
            self.current.status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        ex = self.current
        if ex is None:
            return
        now = perf_counter_ns()
        if ex.first_byte_ns == 0:
            ex.first_byte_ns = now
        ex.body_bytes += len(body)
        if ex.event_times is not None:
            window = self._carry + body
            n = window.count(_DATA) - (self._carry == _DATA)
            if n:
                ex.events += n
                ex.event_times.extend([now] * n)
            if not ex.done and _DONE in window:
                ex.done = True
            self._carry = window[-5:]

    def on_message_complete(self) -> None:
        ex = self.current
        if ex is None:
            return
        ex.done_ns = perf_counter_ns()
        if ex.status == 0:
            ex.status = self._parser.get_status_code()
        keep_alive = self._parser.should_keep_alive()
        self.current = None
        if not keep_alive and self.transport is not None:
            self.closed = True
            self.transport.close()
        self._on_finish(self, ex)

    # failures
    def _fail(self, reason: str) -> None:
        if self.transport is not None:
            self.transport.close()
        self.closed = True
        if self.current is not None:
            self._finish_with_error(reason)

    def _finish_with_error(self, reason: str) -> None:
        ex = self.current
        assert ex is not None
        self.current = None
        ex.error = reason
        ex.done_ns = perf_counter_ns()
        self._on_finish(self, ex)


def build_request(
    host: str, port: int, path: str, body: bytes, headers: dict[str, str]
) -> bytes:
    """Head and body as one buffer, so each request is one write."""
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    lines.extend(f"{k}: {v}" for k, v in headers.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
