"""HTTP/1.1 server protocol on asyncio + httptools.

One instance per client connection. Requests are parsed incrementally, dispatched one
at a time per connection (pipelined requests wait their turn), and answered with a
single write for whole responses, or chunked transfer encoding for streams, respecting
the transport's flow control. A client that goes away cancels its request's handler,
which is how upstream work is abandoned promptly.

This module holds the connection's lifecycle, the parser's callbacks and the dispatch
of requests; the rest of `HttpProtocol` comes from the classes it is built on (see
connection.py for the chain).
"""

from __future__ import annotations

import asyncio
import logging
import re

import httptools

from switchpoint.server.content_coding import (
    CodedBodyTooLarge,
    MalformedCoding,
    UnsupportedCoding,
    decode_body,
)
from switchpoint.server.flow import MAX_PIPELINE
from switchpoint.server.request import Request
from switchpoint.server.response import StreamingResponse
from switchpoint.server.state import ErrorRenderer, Handler, ServerState, plain_error_renderer
from switchpoint.server.upgrade import Upgrades
from switchpoint.server.writing import ANNOUNCE_KEEP_ALIVE, run_after_sent

__all__ = ["ErrorRenderer", "Handler", "HttpProtocol", "ServerState", "plain_error_renderer"]

log = logging.getLogger("switchpoint.server")

_MAX_HEAD_BYTES = 64 * 1024
# What a Host value (RFC 3986 reg-name, IP literal, port) cannot hold.
_NOT_IN_HOST = re.compile(rb"[^A-Za-z0-9\-._~%!$&'()*+;=:\[\]]")
# Added to a message's head byte count once its head is complete: whatever `on_header`
# reports after that is a chunked body's trailer, and lands on the (rare) over-limit branch.
_TRAILERS = 1 << 62


class HttpProtocol(Upgrades):
    """One client connection: the asyncio protocol, httptools' callbacks, dispatch."""

    # --- connection lifecycle ---------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self._client = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else ""
        self._state.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._state.connections.discard(self)
        self._closing = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self._drain is not None and not self._drain.done():
            self._drain.set_exception(ConnectionResetError("client went away"))
        self._queue.clear()
        # The parser and this object reference each other, so the connection is freed by a
        # garbage collection, which a server runs rarely (heap.py): a body it was reading
        # must not wait with it (a client that hung up half-way through 30 MB).
        self._body.clear()

    def eof_received(self) -> bool:
        """The client sent its FIN. A half-close (`nc -N`) cannot be told from a client
        that gave up and closed, and an agent cancels a call by closing: the call in
        flight is abandoned (its upstream request cancelled, so the vendor stops billing
        for it) rather than answered."""
        return False

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self._decline_upgrade(data, exc.args[0] if exc.args else len(data))
        except httptools.HttpParserError as exc:
            # Once reading is done (e.g. data after `Connection: close`) the rest is ignored.
            if not self._done_reading:
                self._fail(400, "invalid_request", f"malformed HTTP request: {exc}")

    # --- httptools callbacks --------------------------------------------------------
    def on_message_begin(self) -> None:
        self._reset_message()
        self._message_started_at = self._loop.time()

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_bytes += len(url)
        if self._head_bytes > _MAX_HEAD_BYTES:
            self._fail(431, "invalid_request", "request line and headers are too large")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value)
        if self._head_bytes > _MAX_HEAD_BYTES:
            self._header_over_limit()
            return
        key = name.lower()
        previous = self._headers.get(key)
        self._headers[key] = value if previous is None else previous + b", " + value

    def _header_over_limit(self) -> None:
        """A header past the head limit, or a chunked body's trailer field (the count was
        moved past the limit when the head completed)."""
        if self._head_bytes < _TRAILERS or self._head_bytes - _TRAILERS > _MAX_HEAD_BYTES:
            self._fail(431, "invalid_request", "request line and headers are too large")
        # A trailer within the limit is dropped: merged into the headers, it could add
        # or change fields a fronting proxy has checked (RFC 9110 §6.5.1).

    def on_headers_complete(self) -> None:
        self._head_bytes += _TRAILERS
        version = self._version = self._parser.get_http_version()
        headers = self._headers
        host = headers.get(b"host")
        if host is not None:
            # RFC 9112 §3.2: several Host lines (merged with ", " by `on_header`) or a value
            # that is no host[:port] get a 400. One regex search, ~0.1 µs.
            if _NOT_IN_HOST.search(host) is not None:
                self._fail(400, "invalid_request", "the Host header must be one host[:port]")
                return
        elif version == "1.1":
            # HTTP/1.0 predates the header and may omit it; HTTP/1.1 may not.
            self._fail(400, "invalid_request", "an HTTP/1.1 request needs a Host header")
            return
        if version != "1.1" and version != "1.0":
            self._fail(505, "invalid_request", f"HTTP/{version} is not supported: use HTTP/1.1")
            return
        coding = headers.get(b"transfer-encoding")
        if coding is not None and coding.strip().lower() != b"chunked":
            # RFC 9112 §6.1: a transfer coding the server does not implement gets a 501;
            # read as if it were absent, a gzip one left the body compressed.
            self._fail(
                501,
                "invalid_request",
                "only the chunked transfer coding is supported; compress a request body "
                "with Content-Encoding: gzip instead",
            )
            return
        length = headers.get(b"content-length")
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                size = -1
            if size > self._state.max_body_bytes:
                self._fail(
                    413,
                    "request_too_large",
                    f"request body of {size} bytes exceeds the limit of "
                    f"{self._state.max_body_bytes} bytes",
                )
                return
        if self._parser.should_upgrade():
            self._hold_upgrade()
        elif b"expect" in headers:
            self._expect(headers[b"expect"])

    def on_body(self, body: bytes) -> None:
        if self._done_reading:
            return
        self._body_bytes += len(body)
        if self._body_bytes > self._state.max_body_bytes:
            self._fail(
                413,
                "request_too_large",
                f"request body exceeds the limit of {self._state.max_body_bytes} bytes",
            )
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._done_reading:
            return
        parsed = httptools.parse_url(self._url)
        path = parsed.path.decode("latin-1") if parsed.path else "/"
        query = parsed.query.decode("latin-1") if parsed.query else ""
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        # The pieces are the request's now: not held by the connection (see connection_lost).
        self._body.clear()
        codings = self._headers.get(b"content-encoding")
        if codings is not None:
            try:
                body = decode_body(body, codings, self._state.max_body_bytes)
                del self._headers[b"content-encoding"]
            except UnsupportedCoding as exc:
                self._fail(415, "invalid_request", str(exc))
                return
            except CodedBodyTooLarge as exc:
                self._fail(413, "request_too_large", str(exc))
                return
            except MalformedCoding as exc:
                self._fail(400, "invalid_request", str(exc))
                return
        request = Request(
            method=self._parser.get_method().decode("latin-1"),
            path=path,
            query=query,
            headers=self._headers,
            body=body,
            client=self._client,
            http_version=self._version,
        )
        self._message_started_at = None
        keep_alive: int = self._parser.should_keep_alive()
        if not keep_alive:
            self._done_reading = True
        elif self._version == "1.0":
            keep_alive = ANNOUNCE_KEEP_ALIVE
        self._queue.append((request, keep_alive))
        if len(self._queue) > MAX_PIPELINE:
            self._pause_reading()
        if self._task is None:
            self._next()

    # --- dispatch -------------------------------------------------------------------
    def _next(self) -> None:
        if self._closing or not self._queue:
            self._task = None
            if self._when_idle:
                self._idle()
            return
        request, keep_alive = self._queue.popleft()
        self._task = self._loop.create_task(self._respond(request, keep_alive))

    async def _respond(self, request: Request, keep_alive: int) -> None:
        try:
            response = await self._state.handler(request)
            if self._state.draining:
                keep_alive = 0  # the server is stopping: this is the connection's last answer
            if request.method == "HEAD":
                await self._write_head_only(response, keep_alive, request.http_version)
            elif isinstance(response, StreamingResponse):
                await self._write_stream(response, keep_alive, request.http_version)
            else:
                self._write_whole(response, keep_alive)
                if response.after_sent is not None:
                    run_after_sent(response.after_sent)
            if self._write_paused:
                # The next answer waits until the client takes this one.
                await self._wait_drain()
        except (asyncio.CancelledError, ConnectionError):
            self._close()
            return
        except Exception:
            log.exception("unhandled error answering %s %s", request.method, request.path)
            if not self._closing:
                self._write_whole(
                    self._state.render_error(
                        500, "internal", "internal gateway error", request.path
                    ),
                    False,
                )
            keep_alive = False  # as the 500 says
        now = self._loop.time()
        self._last_activity = now
        if self._message_started_at is not None:
            # A request began arriving during this answer: its read time starts now.
            self._message_started_at = now
        if not keep_alive or self._state.draining:
            # Draining: a stream whose head promised keep-alive before the drain began
            # ends its connection too, rather than take the client's next request.
            self._close()
            return
        if self._read_paused:
            self._maybe_resume_reading()
        self._next()

    # --- shutdown -------------------------------------------------------------------
    def shutdown(self) -> None:
        """Close once idle; used for graceful shutdown."""
        if not self.busy:
            self._close()

    def cut(self) -> asyncio.Task[None] | None:
        """Close now, busy or not (the shutdown's grace is over): the request's handler
        is cancelled as when its client goes away, and a stream ends without its last
        chunk. Returns the handler's task, whose cancellation still has to run."""
        self._queue.clear()
        task = self._task
        if task is not None and not task.done():
            task.cancel()
        self._close()
        return task
