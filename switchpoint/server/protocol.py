"""HTTP/1.1 server protocol on asyncio + httptools.

One instance per client connection. Requests are parsed incrementally, dispatched one
at a time per connection (pipelined requests wait their turn), and answered with a
single write for whole responses, or chunked transfer encoding for streams, respecting
the transport's flow control. A client that goes away cancels its request's handler,
which is how upstream work is abandoned promptly.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from email.utils import formatdate

import httptools
import orjson

from switchpoint.server.content_coding import (
    CodedBodyTooLarge,
    MalformedCoding,
    UnsupportedCoding,
    decode_body,
)
from switchpoint.server.request import Request
from switchpoint.server.response import (
    FinalPiece,
    Response,
    StreamingResponse,
    encode_headers,
    status_line,
)

log = logging.getLogger("switchpoint.server")

Handler = Callable[[Request], Awaitable[Response | StreamingResponse]]
# Renders a protocol-level failure (bad HTTP, body too large) as a response body:
# (status, kind, message, request path or "" when unknown).
ErrorRenderer = Callable[[int, str, str, str], Response]

_MAX_HEAD_BYTES = 64 * 1024
_MAX_PIPELINE = 16
# Added to a message's head byte count once its head is complete: whatever `on_header`
# reports after that is a chunked body's trailer, and lands on the (rare) over-limit branch.
_TRAILERS = 1 << 62
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# Headers dropped when an upgrade is declined (the request is answered over HTTP/1.1).
_UPGRADE_HEADERS = frozenset((b"upgrade", b"connection", b"http2-settings"))


class ServerState:
    """Shared by every connection of one server: limits, the clock-driven date header,
    and the set of live connections (for idle sweeps and graceful shutdown)."""

    def __init__(
        self,
        handler: Handler,
        render_error: ErrorRenderer,
        *,
        max_body_bytes: int,
        keep_alive_s: float,
        read_timeout_s: float,
        write_timeout_s: float = 60.0,
    ) -> None:
        self.handler = handler
        self.render_error = render_error
        self.max_body_bytes = max_body_bytes
        self.keep_alive_s = keep_alive_s
        self.read_timeout_s = read_timeout_s
        self.write_timeout_s = write_timeout_s
        self.connections: set[HttpProtocol] = set()
        self.date_header = b""
        self.accepting = True
        self.refresh_date()

    def refresh_date(self) -> None:
        self.date_header = f"date: {formatdate(usegmt=True)}\r\n".encode("latin-1")

    def sweep(self, now: float) -> None:
        for connection in list(self.connections):
            connection.check_timeouts(now)


class HttpProtocol(asyncio.Protocol):
    def __init__(self, state: ServerState, loop: asyncio.AbstractEventLoop) -> None:
        self._state = state
        self._loop = loop
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._client = ""
        self._queue: deque[tuple[Request, bool]] = deque()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._write_paused = False
        self._read_paused = False
        # No further request is taken from this connection: one was refused, or the last
        # one read said it was the last (what follows it is ignored).
        self._done_reading = False
        self._upgrading = False  # see `_hold_upgrade`
        # A refusal that waits for the requests read before it to be answered.
        self._error: Response | None = None
        # `Expect: 100-continue` on a request read while earlier ones are answered.
        self._continue_pending = False
        # Something waits for the queue to empty (`_error`, `_continue_pending`):
        # one test where a response ends.
        self._when_idle = False
        # Since when the client has taken none of what is buffered for it, and how much
        # that was: a slow client that keeps reading is never cut off.
        self._write_stalled_at = 0.0
        self._write_stalled_bytes = 0
        self._drain: asyncio.Future[None] | None = None
        # When the connection last became idle. Not refreshed by incoming bytes: CRLFs
        # between requests (which start no message) must not keep it open for ever.
        self._last_activity = loop.time()
        self._version = "1.1"
        self._reset_message()

    def _reset_message(self) -> None:
        self._url = b""
        self._headers: dict[bytes, bytes] = {}
        self._head_bytes = 0
        self._body: list[bytes] = []
        self._body_bytes = 0
        self._message_started_at: float | None = None
        self._continue_pending = False

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

    def eof_received(self) -> bool:
        """The client sent its FIN. A half-close (`nc -N`) cannot be told from a client
        that gave up and closed, and an agent cancels a call by closing: the call in
        flight is abandoned (its upstream request cancelled, so the vendor stops billing
        for it) rather than answered."""
        return False

    def pause_writing(self) -> None:
        self._write_paused = True
        self._write_stalled_at = self._loop.time()
        transport = self._transport
        self._write_stalled_bytes = transport.get_write_buffer_size() if transport else 0
        # A client that does not take its answers gets no more requests read (a pipelining
        # client that never reads would otherwise have every answer buffered here).
        self._pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        self._maybe_resume_reading()

    def _pause_reading(self) -> None:
        if not self._read_paused and self._transport is not None:
            self._read_paused = True
            self._transport.pause_reading()

    def _maybe_resume_reading(self) -> None:
        if (
            self._read_paused
            and not (self._write_paused or self._done_reading or self._closing)
            and len(self._queue) <= _MAX_PIPELINE
            and self._transport is not None
        ):
            self._read_paused = False
            self._transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self._decline_upgrade(data, exc.args[0] if exc.args else len(data))
        except httptools.HttpParserError as exc:
            # Once reading is done (e.g. data after `Connection: close`) the rest is ignored.
            if not self._done_reading:
                self._fail(400, "invalid_request", f"malformed HTTP request: {exc}")

    def check_timeouts(self, now: float) -> None:
        transport = self._transport
        if transport is None:
            return
        if self._write_paused and self._write_stalled(transport, now):
            # Also when already closing: a close waits for the buffer to be sent, which a
            # client that does not read never lets happen.
            log.info(
                "client %s took none of its response for %gs: disconnected",
                self._client,
                self._state.write_timeout_s,
            )
            self._closing = True
            transport.abort()
            return
        # While busy, a request being read waits its turn: its read time starts when the
        # connection is free (`_respond`), so it can never cut an earlier request.
        if self._closing or self.busy:
            return
        reading = self._message_started_at
        if reading is not None:
            if now - reading > self._state.read_timeout_s:
                self._fail(408, "invalid_request", "the request was not received in time")
        elif now - self._last_activity > self._state.keep_alive_s:
            self._close()

    def _write_stalled(self, transport: asyncio.Transport, now: float) -> bool:
        """Whether the client has taken none of its buffered response for longer than
        the write time limit (a whole answer is buffered at once: a client reading it
        slowly keeps writing paused for as long as it takes, without stalling)."""
        buffered = transport.get_write_buffer_size()
        if buffered < self._write_stalled_bytes:
            self._write_stalled_bytes = buffered
            self._write_stalled_at = now
            return False
        return now - self._write_stalled_at > self._state.write_timeout_s

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
        if version != "1.1" and version != "1.0":
            self._fail(505, "invalid_request", f"HTTP/{version} is not supported: use HTTP/1.1")
            return
        headers = self._headers
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

    def _expect(self, expect: bytes) -> None:
        if self._version != "1.1" or self._done_reading:
            return  # an HTTP/1.0 client cannot take an interim answer (RFC 9110 §10.1.1)
        if expect.lower() != b"100-continue":
            self._fail(417, "invalid_request", "only `Expect: 100-continue` is supported")
        elif self.busy:
            # Written once the answers before it are out, not into the middle of one.
            self._continue_pending = True
            self._when_idle = True
        elif self._transport is not None and not self._closing:
            self._transport.write(_CONTINUE)

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
        keep_alive = self._parser.should_keep_alive()
        if not keep_alive:
            self._done_reading = True
        self._queue.append((request, keep_alive))
        if len(self._queue) > _MAX_PIPELINE:
            self._pause_reading()
        if self._task is None:
            self._next()

    # --- upgrades -------------------------------------------------------------------
    def _hold_upgrade(self) -> None:
        """llhttp stops at an upgrade request's head, leaving its body unread: the message
        it reports complete is not queued (`_decline_upgrade` parses it again)."""
        if self._done_reading:
            return
        if self._parser.get_method() == b"CONNECT":
            self._fail(400, "invalid_request", "CONNECT is not supported")
            return
        self._done_reading = True
        self._upgrading = True

    def _decline_upgrade(self, data: bytes, offset: int) -> None:
        """Answer an upgrade request over HTTP/1.1, as if it had asked for none (RFC 9110
        §7.8 lets a server ignore `Upgrade`): a new parser reads it again from its head
        without the upgrade and with `connection: close` (keep-alive after an ignored
        upgrade is not worth its corner cases), then the rest of the data."""
        if not self._upgrading or self._closing:
            return
        self._upgrading = False
        lines = [
            b"%s %s HTTP/%s\r\n" % (self._parser.get_method(), self._url, self._version.encode())
        ]
        lines.extend(
            b"%s: %s\r\n" % item
            for item in self._headers.items()
            if item[0] not in _UPGRADE_HEADERS
        )
        lines.append(b"connection: close\r\n\r\n")
        self._parser = httptools.HttpRequestParser(self)
        self._done_reading = False
        self.data_received(b"".join(lines) + data[offset:])

    # --- dispatch -------------------------------------------------------------------
    def _next(self) -> None:
        if self._closing or not self._queue:
            self._task = None
            if self._when_idle:
                self._idle()
            return
        request, keep_alive = self._queue.popleft()
        self._task = self._loop.create_task(self._respond(request, keep_alive))

    def _idle(self) -> None:
        """Every request read is answered: now what waited for that."""
        self._when_idle = False
        if self._closing or self._transport is None:
            return
        if self._error is not None:
            self._write_whole(self._error, False)
            self._error = None
            self._close()
        elif self._continue_pending and self._message_started_at is not None:
            self._continue_pending = False
            self._transport.write(_CONTINUE)

    async def _respond(self, request: Request, keep_alive: bool) -> None:
        try:
            response = await self._state.handler(request)
            if request.method == "HEAD":
                await self._write_head_only(response, keep_alive, request.http_version)
            elif isinstance(response, StreamingResponse):
                await self._write_stream(response, keep_alive, request.http_version)
            else:
                self._write_whole(response, keep_alive)
                if response.after_sent is not None:
                    _run_after_sent(response.after_sent)
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
        if not keep_alive:
            self._close()
            return
        if self._read_paused:
            self._maybe_resume_reading()
        self._next()

    def _head(
        self, status: int, content_type: str, headers: Sequence[tuple[str, str]], keep_alive: bool
    ) -> bytes:
        # One join: each `+` would copy the head so far.
        return b"".join(
            (
                status_line(status),
                b"server: switchpoint\r\n",
                self._state.date_header,
                b"content-type: ",
                content_type.encode("latin-1"),
                b"\r\n",
                encode_headers(headers),
                b"" if keep_alive else b"connection: close\r\n",
            )
        )

    def _write_whole(self, response: Response, keep_alive: bool) -> None:
        if self._transport is None or self._closing:
            return
        head = self._head(response.status, response.content_type, response.headers, keep_alive)
        body = response.body
        self._transport.write(b"".join((head, b"content-length: %d\r\n\r\n" % len(body), body)))

    async def _write_head_only(
        self, response: Response | StreamingResponse, keep_alive: bool, http_version: str
    ) -> None:
        """HEAD: the head a GET gets, with its length, and no body (RFC 9110 §9.3.2)."""
        if isinstance(response, StreamingResponse):
            try:
                if self._transport is not None and not self._closing:
                    self._transport.write(self._stream_head(response, keep_alive, http_version))
            finally:
                await _close_stream(response)
            if http_version == "1.0":
                self._close()  # its head said so: a 1.0 stream is delimited by the close
            return
        if self._transport is not None and not self._closing:
            head = self._head(response.status, response.content_type, response.headers, keep_alive)
            self._transport.write(head + b"content-length: %d\r\n\r\n" % len(response.body))
        if response.after_sent is not None:
            _run_after_sent(response.after_sent)

    def _stream_head(
        self, response: StreamingResponse, keep_alive: bool, http_version: str
    ) -> bytes:
        chunked = http_version != "1.0"
        head = self._head(
            response.status, response.content_type, response.headers, keep_alive and chunked
        )
        response.sent_head()
        extra = b"cache-control: no-cache\r\nx-accel-buffering: no\r\n"
        if chunked:
            extra += b"transfer-encoding: chunked\r\n"
        return head + extra + b"\r\n"

    async def _write_stream(
        self, response: StreamingResponse, keep_alive: bool, http_version: str
    ) -> None:
        try:
            await self._relay(response.body, response, keep_alive, http_version)
        finally:
            await _close_stream(response)

    async def _relay(
        self,
        body: AsyncIterator[bytes],
        response: StreamingResponse,
        keep_alive: bool,
        http_version: str,
    ) -> None:
        transport = self._transport
        if transport is None or self._closing:
            return
        chunked = http_version != "1.0"
        # The head leaves with the first piece, and the last piece with the end of the
        # response. Every other piece is written as it comes: the relay yields one piece
        # per upstream read (events are batched per read upstream of here).
        pending: bytes | None = self._stream_head(response, keep_alive, http_version)
        try:
            async for piece in body:
                if not piece:
                    continue
                if self._closing:
                    return
                data = b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece
                if pending is not None:
                    data, pending = pending + data, None
                if type(piece) is FinalPiece:
                    pending = data
                    continue
                transport.write(data)
                if self._write_paused:
                    await self._wait_drain()
        except (ConnectionError, asyncio.CancelledError):
            self._write_pending(pending)
            self._close()
            raise
        except Exception:
            # The headers may be out: the only honest signal left is to end the connection
            # without the final chunk, so the client cannot take the answer as complete.
            log.exception("stream failed after its headers were sent")
            self._write_pending(pending)
            self._close()
            return
        if chunked:
            self._write_pending((pending or b"") + b"0\r\n\r\n")
        else:
            self._write_pending(pending)
            self._close()

    def _write_pending(self, data: bytes | None) -> None:
        transport = self._transport
        if data and transport is not None and not self._closing:
            transport.write(data)

    async def _wait_drain(self) -> None:
        self._drain = self._loop.create_future()
        try:
            await self._drain
        finally:
            self._drain = None

    # --- shutdown -------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """A request is being answered, or waits its turn on this connection."""
        return self._task is not None or bool(self._queue)

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

    # --- failures -------------------------------------------------------------------
    def _fail(self, status: int, kind: str, message: str) -> None:
        """Refuse a request we cannot parse or accept: the requests read before it are
        answered first, in order, then this, then the connection is closed."""
        if self._done_reading:
            return
        self._done_reading = True
        if self._transport is None or self._closing:
            return
        error = self._state.render_error(status, kind, message, self._path_so_far())
        if self.busy:
            self._error = error
            self._when_idle = True
            return
        self._write_whole(error, False)
        self._close()

    def _path_so_far(self) -> str:
        """The path of the request being read, if its URL has arrived (for the error's
        protocol: a 413 under /v1/messages is answered in Anthropic's shape)."""
        try:
            parsed = httptools.parse_url(self._url) if self._url else None
        except httptools.HttpParserInvalidURLError:
            return ""
        return parsed.path.decode("latin-1") if parsed is not None and parsed.path else ""

    def _close(self) -> None:
        self._closing = True
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()


async def _close_stream(response: StreamingResponse) -> None:
    # Whatever happened (even a client gone before the first byte), the body is closed
    # and its owner told, so no upstream stream or accounting is left open.
    aclose = getattr(response.body, "aclose", None)
    if aclose is not None:
        await aclose()
    if response.on_close is not None:
        await response.on_close()


def plain_error_renderer(status: int, kind: str, message: str, path: str) -> Response:
    """Protocol-level errors in OpenAI's shape (the protocol is not known yet)."""
    return Response(
        status,
        orjson.dumps({"error": {"message": message, "type": kind, "param": None, "code": None}}),
    )


def _run_after_sent(after_sent: Callable[[], None]) -> None:
    # The answer is already on its way: a failure here must not become a second response.
    try:
        after_sent()
    except Exception:
        log.exception("bookkeeping after a response failed")
