"""A lean HTTP/1.1 client with keep-alive connection pooling, on asyncio + httptools.

Why not a general-purpose client: the gateway adds its own cost to every request of
every agent loop, and a general client spends more CPU per request than the rest of the
gateway together. This one does what the providers need and nothing else: one write per
request (head and body together), pooled keep-alive connections per origin, TLS,
streamed bodies with bounded buffering, and cheap timeouts (a timer handle, no task).
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from collections import deque
from dataclasses import dataclass

import certifi
import httptools

from switchpoint.log_throttle import LogThrottle
from switchpoint.transport.egress_proxy import (
    EgressProxy,
    TunnelOpening,
    connect_request,
    proxy_for,
)
from switchpoint.transport.errors import (
    ConnectError,
    ConnectionDropped,
    InvalidHttpResponse,
    ReadTimeout,
)
from switchpoint.transport.local_resources import local_exhaustion
from switchpoint.transport.origin import Origin

# Stop reading from the upstream while this much body is buffered and unread.
_HIGH_WATER = 1 << 20
# A vendor's response head is a few KB; a proxy in front of it may add some.
MAX_RESPONSE_HEAD_BYTES = 256 * 1024
# How long a released connection may wait for the rest of its body before it is closed.
_RELEASE_GRACE_S = 1.0
# The event loop's clock resolution (uvloop counts milliseconds).
_CLOCK_STEP_S = 0.001
_EXHAUSTION_LOG_EVERY_S = 10.0
# A pooled connection closed with nothing received within this of the request being
# written was stale (closed by the server while idle): the request is sent again.
_STALE_WINDOW_S = 1.0


class _Connection(asyncio.Protocol):
    """One keep-alive connection; carries one exchange at a time."""

    def __init__(self, origin: Origin, loop: asyncio.AbstractEventLoop) -> None:
        self.origin = origin
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.last_used = 0.0
        self._parser = httptools.HttpResponseParser(self)
        # The current wait's deadline (loop time) and the one timer that enforces it.
        self._deadline: float | None = None
        self._phase = ""
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        # Names lower-cased; a repeated header keeps its last value. A dict of strings is
        # not tracked by the garbage collector (a list of pairs is, pair by pair, for
        # as long as a stream lasts).
        self.headers: dict[str, str] = {}
        self._head_bytes = 0
        self.headers_done = False
        self.complete = False
        self.keep_alive = True
        self.error: Exception | None = None
        self.received = 0
        self.chunks: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._pending_release: HttpClient | None = None
        self._release_timer: asyncio.TimerHandle | None = None

    # --- asyncio.Protocol -------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(
                InvalidHttpResponse(
                    f"an invalid HTTP response ({exc})",
                    phase="body" if self.headers_done else "headers",
                    received_bytes=self.received,
                )
            )
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._cancel_pending_release()
        if self.headers_done and not self.complete and self._delimited_by_close():
            self.complete = True
            self.keep_alive = False
            self._wake()
        elif not self.complete and self.error is None:
            phase = "body" if self.headers_done else "headers"
            self._fail(
                ConnectionDropped(
                    "upstream closed the connection", phase=phase, received_bytes=self.received
                )
            )

    def _delimited_by_close(self) -> bool:
        """A body with neither a length nor chunked framing ends when the connection does."""
        headers = self.headers
        return "content-length" not in headers and "transfer-encoding" not in headers

    # --- httptools callbacks ----------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        # httptools sets no limit of its own: an endless head would take all the memory.
        self._head_bytes += len(name) + len(value)
        if self._head_bytes > MAX_RESPONSE_HEAD_BYTES:
            if self.error is None:
                self._fail(
                    InvalidHttpResponse(
                        f"response headers larger than {MAX_RESPONSE_HEAD_BYTES} bytes",
                        phase="headers",
                        received_bytes=self.received,
                    )
                )
                self.close()
            return
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        if self.status < 200:
            # An interim response (100 Continue); the real one follows.
            self.headers = {}
            return
        self.headers_done = True
        self.keep_alive = self._parser.should_keep_alive()
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        # `_wake`, inline: this runs for every chunk of a chunked body.
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def on_message_complete(self) -> None:
        if self.status < 200:
            return
        self.complete = True
        self._wake()
        pending = self._pending_release
        if pending is not None:
            self._cancel_pending_release()
            pending.release(self)

    def release_on_complete(self, client: HttpClient) -> None:
        """Go back to `client`'s pool once the body's end arrives; close if it does not
        arrive within `_RELEASE_GRACE_S` (nobody waits on this connection any more)."""
        self._pending_release = client
        self._release_timer = self._loop.call_later(_RELEASE_GRACE_S, self._abandon)

    def _abandon(self) -> None:
        self._release_timer = None
        self._pending_release = None
        self.close()

    def _cancel_pending_release(self) -> None:
        self._pending_release = None
        if self._release_timer is not None:
            self._release_timer.cancel()
            self._release_timer = None

    # --- exchange ---------------------------------------------------------------
    def send(self, data: bytes) -> None:
        self._reset()
        assert self.transport is not None
        self.transport.write(data)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: Exception) -> None:
        self.error = exc
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def wait(self, timeout: float | None, phase: str) -> asyncio.Future[None]:
        """A future done when something happens on this connection, or failing with
        ReadTimeout after `timeout`.

        A future, not a coroutine: a stream waits once per chunk, and a coroutine frame
        to create and resume each time is a cost for nothing. One timer per connection,
        re-armed only when it fires early, rather than a timer per wait, for the same
        reason (creating and cancelling one cost more than the rest of the wait). A
        finished waiter left behind is harmless: nothing acts on a done future."""
        if self.error is not None:
            raise self.error
        loop = self._loop
        waiter = loop.create_future()
        self._waiter = waiter
        if timeout is not None:
            deadline = loop.time() + timeout
            self._deadline = deadline
            self._phase = phase
            timer = self._timer
            if timer is None or self._timer_at > deadline:
                if timer is not None:
                    timer.cancel()
                self._timer = loop.call_at(deadline, self._on_deadline)
                self._timer_at = deadline
        else:
            self._deadline = None
        return waiter

    def _on_deadline(self) -> None:
        self._timer = None
        deadline = self._deadline
        waiter = self._waiter
        if deadline is None or waiter is None or waiter.done():
            return
        # The loop's clock has millisecond steps: a timer may fire just before its time.
        if self._loop.time() >= deadline - _CLOCK_STEP_S:
            waiter.set_exception(
                ReadTimeout(
                    f"no data from upstream within the time limit ({self._phase})",
                    phase=self._phase,
                    received_bytes=self.received,
                )
            )
        else:
            self._timer = self._loop.call_at(deadline, self._on_deadline)
            self._timer_at = deadline

    def take_all(self) -> bytes:
        """All the body buffered so far, as one piece (one chunk-encoded event per HTTP
        chunk is common: handing them over together lets the reader work per read)."""
        chunks = self.chunks
        data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._buffered = 0
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    def close(self) -> None:
        self.closed = True
        # Nobody reads them now. This object and its parser reference each other, so it
        # is freed by a garbage collection, which a server runs rarely (heap.py): a
        # vendor's answer buffered for a client that left (up to `_HIGH_WATER`) must
        # not wait with it.
        self.chunks.clear()
        self._buffered = 0
        self._cancel_pending_release()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.transport is not None:
            self.transport.close()

    @property
    def reusable(self) -> bool:
        return self.complete and self.keep_alive and not self.closed and self.error is None


class UpstreamResponse:
    """A response whose headers have arrived; the body is read or streamed from here.

    Exactly one of `read()`, or iterating `next_chunk()` to its end, or `close()` must be
    called; the connection goes back to the pool only after a complete, clean exchange.
    """

    __slots__ = ("_client", "_conn", "_done", "headers", "status")

    def __init__(self, client: HttpClient, conn: _Connection) -> None:
        self._client = client
        self._conn = conn
        self._done = False
        self.status = conn.status
        self.headers = conn.headers

    async def read(self, timeout: float | None, *, limit: int | None = None) -> bytes:
        """The body, taken as it arrives: past the buffer's high-water mark the connection
        stops reading until it is taken, so waiting for the end first would wait forever.
        With `limit`, at most that much is returned and no more is read (the connection
        is closed rather than reused). ReadTimeout after `timeout` idle."""
        pieces: list[bytes] = []
        size = 0
        while (piece := await self.next_chunk(timeout)) is not None:
            pieces.append(piece)
            size += len(piece)
            if limit is not None and size >= limit:
                self.close()
                return b"".join(pieces)[:limit]
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    async def next_chunk(self, timeout: float | None) -> bytes | None:
        """The next piece of body, or None at its end. ReadTimeout after `timeout` idle."""
        conn = self._conn
        try:
            # The buffer looked at directly: a stream comes here once per read, and finds
            # it empty every time but the last (the reader took all of it the time before).
            while not conn.chunks:
                if conn.complete:
                    self._finish()
                    return None
                await conn.wait(timeout, "body")
            return conn.take_all()
        except BaseException:
            self.close()
            raise

    @property
    def received_bytes(self) -> int:
        return self._conn.received

    def _finish(self) -> None:
        if not self._done:
            self._done = True
            self._client.release(self._conn)

    def close(self) -> None:
        if not self._done:
            self._done = True
            self._conn.close()

    def release(self) -> None:
        """The caller has what it needs (e.g. a stream's end sentinel) and will read no
        more. The connection is reused if its exchange ends cleanly: at once if the body's
        end is already in, else when it arrives within a short grace period. Streams end
        this way on every call, so reuse here is what keeps connects off the hot path."""
        if self._done:
            return
        self._done = True
        conn = self._conn
        if conn.complete or conn.error is not None or conn.closed:
            self._client.release(conn)
        else:
            conn.release_on_complete(self._client)


def _trust_store() -> ssl.SSLContext:
    """The CAs upstream certificates are checked against: certifi's bundle (the same on
    every machine), or, where the standard `SSL_CERT_FILE` / `SSL_CERT_DIR` variables
    name others, those instead (a company's own CA, a TLS-inspecting egress proxy's)."""
    cafile = os.environ.get("SSL_CERT_FILE") or None
    capath = os.environ.get("SSL_CERT_DIR") or None
    if cafile is None and capath is None:
        return ssl.create_default_context(cafile=certifi.where())
    try:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    except (OSError, ssl.SSLError) as exc:
        named = " and ".join(
            f"{name}={value}"
            for name, value in (("SSL_CERT_FILE", cafile), ("SSL_CERT_DIR", capath))
            if value
        )
        raise ConnectError(f"cannot load the CA certificates of {named}: {exc}") from None


@dataclass(slots=True)
class RequestProgress:
    """How far a request got, for a caller cancelled while it waits: a vendor bills a
    request it received whether or not its answer is read."""

    # The request was written to a connection (as far as this process can tell).
    request_sent: bool = False


class HttpClient:
    def __init__(self, *, max_idle_per_origin: int = 512, idle_timeout_s: float = 30.0) -> None:
        self._idle: dict[Origin, list[_Connection]] = {}
        self._max_idle = max_idle_per_origin
        self._idle_timeout = idle_timeout_s
        self._ssl: ssl.SSLContext | None = None
        self._closed = False
        self._exhaustion_log = LogThrottle(_EXHAUSTION_LOG_EVERY_S)

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = _trust_store()
        return self._ssl

    async def _connect(self, origin: Origin, timeout: float) -> _Connection:
        loop = asyncio.get_running_loop()
        proxy = proxy_for(origin)
        try:
            async with asyncio.timeout(timeout):
                if proxy is not None:
                    return await self._tunnel(loop, origin, proxy)
                _, conn = await loop.create_connection(
                    lambda: _Connection(origin, loop),
                    origin.host,
                    origin.port,
                    ssl=self._ssl_context() if origin.tls else None,
                    server_hostname=origin.host if origin.tls else None,
                )
        except TimeoutError:
            via = f" through the egress proxy {proxy.address}" if proxy else ""
            raise ConnectError(f"connect to {origin.host_header}{via} timed out") from None
        except (OSError, ssl.SSLError) as exc:
            local = local_exhaustion(exc, origin.host_header, self._exhaustion_log)
            if local is not None:
                raise local from None
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConnectError(f"cannot connect to {origin.host_header}: {reason}") from None
        return conn

    async def _tunnel(
        self, loop: asyncio.AbstractEventLoop, origin: Origin, proxy: EgressProxy
    ) -> _Connection:
        """A connection to `origin` through a CONNECT tunnel, TLS inside it if need be."""
        opening = TunnelOpening(connect_request(origin, proxy), origin, proxy)
        try:
            transport, _ = await loop.create_connection(lambda: opening, proxy.host, proxy.port)
        except OSError as exc:
            local = local_exhaustion(exc, proxy.address, self._exhaustion_log)
            if local is not None:
                raise local from None
            reason = exc.strerror or str(exc)
            raise ConnectError(
                f"cannot connect to the egress proxy {proxy.address}: {reason}"
            ) from None
        try:
            await opening.opened
            conn = _Connection(origin, loop)
            if origin.tls:
                tls_transport = await loop.start_tls(
                    transport, conn, self._ssl_context(), server_hostname=origin.host
                )
                if tls_transport is None:  # the loop's signature allows it; never seen
                    raise ConnectError(f"TLS to {origin.host_header} did not start")
                transport = tls_transport
            else:
                transport.set_protocol(conn)
            conn.connection_made(transport)
        except BaseException:
            transport.close()
            raise
        return conn

    def _pooled(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.last_used < self._idle_timeout:
                return conn
            conn.close()
        return None

    def release(self, conn: _Connection) -> None:
        if not conn.reusable or self._closed:
            conn.close()
            return
        idle = self._idle.setdefault(conn.origin, [])
        if len(idle) >= self._max_idle:
            conn.close()
            return
        conn.last_used = time.monotonic()
        idle.append(conn)

    async def request(
        self,
        origin: Origin,
        head: bytes,
        body: bytes,
        *,
        connect_timeout: float,
        response_timeout: float | None,
        progress: RequestProgress | None = None,
    ) -> UpstreamResponse:
        """Send `head` (request line and headers, ending in a blank line) and `body`; return
        once the response headers are in. A pooled connection that turns out to be stale
        (closed by the server with nothing received) is replaced once, transparently.
        `progress`, if given, records that the request was written."""
        data = head + body
        conn = self._pooled(origin)
        if conn is not None:
            sent_at = time.monotonic()
            try:
                return await self._exchange(conn, data, response_timeout, progress)
            except ConnectionDropped as exc:
                waited = time.monotonic() - sent_at
                # A stale connection fails at once. One that fails later was read by the
                # vendor (an edge proxy's idle timeout while the answer is generated, say):
                # sending it again here would bill it twice, unseen, past the limits.
                if exc.received_bytes or waited > _STALE_WINDOW_S:
                    raise
                if response_timeout is not None:
                    response_timeout = max(0.0, response_timeout - waited)
        conn = await self._connect(origin, connect_timeout)
        return await self._exchange(conn, data, response_timeout, progress)

    async def _exchange(
        self,
        conn: _Connection,
        data: bytes,
        timeout: float | None,
        progress: RequestProgress | None,
    ) -> UpstreamResponse:
        try:
            conn.send(data)
            if progress is not None:
                progress.request_sent = True
            while not conn.headers_done:
                await conn.wait(timeout, "headers")
        except BaseException:
            conn.close()
            raise
        return UpstreamResponse(self, conn)

    def close(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()


def encode_head(method: str, target: str, origin: Origin, headers: bytes, length: int) -> bytes:
    """The request head. `headers` is a pre-encoded block of `name: value\\r\\n` lines."""
    return (
        (
            f"{method} {target} HTTP/1.1\r\nhost: {origin.host_header}\r\n"
            f"content-length: {length}\r\n"
        ).encode("latin-1")
        + headers
        + b"\r\n"
    )


def encode_headers(headers: dict[str, str]) -> bytes:
    for name, value in headers.items():
        if "\r" in name or "\n" in name or "\r" in value or "\n" in value:
            raise ValueError(f"header {name!r} contains a line break")
    return "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode("latin-1")
