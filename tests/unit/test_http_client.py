"""The pooled upstream HTTP client against a real aiohttp server on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from switchpoint.transport.errors import (
    ConnectError,
    ConnectionDropped,
    InvalidHttpResponse,
    LocalResourcesExhausted,
    ReadTimeout,
)
from switchpoint.transport.http_client import (
    HttpClient,
    RequestProgress,
    UpstreamResponse,
    encode_head,
    encode_headers,
)
from switchpoint.transport.origin import Origin, split_base_url
from switchpoint.transport.sse import SSEDecoder


class Upstream:
    def __init__(self) -> None:
        self.peers: set[tuple[str, int]] = set()
        self.requests = 0

    async def echo(self, request: web.Request) -> web.Response:
        self.requests += 1
        assert request.transport is not None
        self.peers.add(request.transport.get_extra_info("peername"))
        return web.Response(body=await request.read(), content_type="application/json")

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="late")

    async def chunks(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for i in range(5):
            await response.write(f"data: {i}\n\n".encode())
            await asyncio.sleep(0.01)
        await response.write_eof()
        return response

    async def done_then_hang(self, request: web.Request) -> web.StreamResponse:
        """Sends its end sentinel, then never ends the body."""
        self.requests += 1
        assert request.transport is not None
        self.peers.add(request.transport.get_extra_info("peername"))
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"data: [DONE]\n\n")
        await asyncio.sleep(30)
        return response

    async def done_then_end(self, request: web.Request) -> web.StreamResponse:
        """Sends its end sentinel, then ends the body a moment later."""
        self.requests += 1
        assert request.transport is not None
        self.peers.add(request.transport.get_extra_info("peername"))
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"data: [DONE]\n\n")
        await asyncio.sleep(0.05)
        await response.write_eof()
        return response

    async def big_then_hang(self, request: web.Request) -> web.StreamResponse:
        """Sends 3 MB of body, then never ends it."""
        self.requests += 1
        assert request.transport is not None
        self.peers.add(request.transport.get_extra_info("peername"))
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"y" * (3 << 20))
        await asyncio.sleep(30)
        return response

    async def cut(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"data: partial\n\n")
        assert request.transport is not None
        request.transport.close()
        return response


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[Upstream, Origin]]:
    state = Upstream()
    app = web.Application(client_max_size=16 << 20)
    app.router.add_post("/echo", state.echo)
    app.router.add_post("/slow", state.slow)
    app.router.add_post("/chunks", state.chunks)
    app.router.add_post("/cut", state.cut)
    app.router.add_post("/big_then_hang", state.big_then_hang)
    app.router.add_post("/done_then_hang", state.done_then_hang)
    app.router.add_post("/done_then_end", state.done_then_end)
    # Handlers that hang on purpose are cut at once when the test ends, not waited for.
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield state, split_base_url(f"http://127.0.0.1:{port}")[0]
    await runner.cleanup()


def head(origin: Origin, path: str, body: bytes) -> bytes:
    return encode_head("POST", path, origin, encode_headers({"x-test": "1"}), len(body))


async def send(
    client: HttpClient,
    origin: Origin,
    path: str,
    body: bytes = b"",
    *,
    connect_timeout: float = 5,
    response_timeout: float = 5,
    progress: RequestProgress | None = None,
) -> UpstreamResponse:
    """POST `body` to `path`; the response once its headers are in."""
    return await client.request(
        origin,
        head(origin, path, body),
        body,
        connect_timeout=connect_timeout,
        response_timeout=response_timeout,
        progress=progress,
    )


async def test_connections_are_reused(upstream: tuple[Upstream, Origin]) -> None:
    state, origin = upstream
    client = HttpClient()
    for i in range(5):
        body = b'{"n": %d}' % i
        response = await send(client, origin, "/echo", body)
        assert response.status == 200
        assert await response.read(5) == body
    assert state.requests == 5
    assert len(state.peers) == 1
    client.close()


async def test_headers_belong_to_their_own_response_after_the_connection_is_reused(
    upstream: tuple[Upstream, Origin],
) -> None:
    """A response's headers are what it received, even once its connection has gone
    back to the pool and carried the next exchange."""
    state, origin = upstream
    client = HttpClient()
    first = await send(client, origin, "/echo", b"{}")
    await first.read(5)
    # The same connection, now answering a chunked stream (no content-length).
    second = await send(client, origin, "/done_then_end")
    assert first.headers["content-type"].startswith("application/json")
    assert first.headers["content-length"] == "2"
    assert "content-length" not in second.headers
    assert second.headers["transfer-encoding"] == "chunked"
    # One dict of strings per response: nothing in it for the garbage collector to walk
    # for as long as a stream holds it.
    assert not gc.is_tracked(first.headers) and not gc.is_tracked(second.headers)
    assert len(state.peers) == 1  # one connection carried both
    second.close()
    client.close()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8080/v1", "127.0.0.1:8080"),
        ("https://api.example.com/v1", "api.example.com"),
        ("http://api.example.com", "api.example.com"),
        ("https://api.example.com:8443", "api.example.com:8443"),
        ("http://[::1]:9000/", "[::1]:9000"),
    ],
)
def test_host_header_names_the_port_only_when_it_is_not_the_default(
    url: str, expected: str
) -> None:
    origin, _path = split_base_url(url)
    assert origin.host_header == expected
    # Origins are the pool's key.
    assert origin == Origin(origin.scheme, origin.host, origin.port)
    assert hash(origin) == hash(Origin(origin.scheme, origin.host, origin.port))


async def test_a_stale_pooled_connection_is_replaced_transparently(
    upstream: tuple[Upstream, Origin],
) -> None:
    _state, origin = upstream
    client = HttpClient()
    response = await send(client, origin, "/echo", b"1")
    await response.read(5)
    # The server forgets the idle connection (as servers do after their keep-alive).
    for connections in client._idle.values():
        for conn in connections:
            assert conn.transport is not None
            conn.transport.get_extra_info("socket").shutdown(socket.SHUT_RD)
    response = await send(client, origin, "/echo", b"2")
    assert await response.read(5) == b"2"
    client.close()


async def test_no_response_in_time_is_a_read_timeout(upstream: tuple[Upstream, Origin]) -> None:
    _, origin = upstream
    client = HttpClient()
    with pytest.raises(ReadTimeout) as caught:
        await send(client, origin, "/slow", response_timeout=0.2)
    assert caught.value.phase == "headers"
    client.close()


async def test_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    origin = Origin("http", "127.0.0.1", port)
    client = HttpClient()
    with pytest.raises(ConnectError):
        await send(client, origin, "/x", connect_timeout=2, response_timeout=2)


async def test_progress_says_whether_the_request_was_written(
    upstream: tuple[Upstream, Origin],
) -> None:
    # Cancelled while it waits for the answer, the request has reached the upstream (a
    # vendor bills it); refused at connect, it has not.
    _, origin = upstream
    client = HttpClient()
    progress = RequestProgress()
    waiting = asyncio.ensure_future(send(client, origin, "/slow", b"{}", progress=progress))
    await asyncio.sleep(0.2)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert progress.request_sent
    client.close()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = Origin("http", "127.0.0.1", probe.getsockname()[1])
    refused = RequestProgress()
    with pytest.raises(ConnectError):
        await send(HttpClient(), closed, "/x", connect_timeout=2, progress=refused)
    assert not refused.request_sent


async def test_streamed_body_arrives_in_pieces_and_decodes_as_sse(
    upstream: tuple[Upstream, Origin],
) -> None:
    state, origin = upstream
    client = HttpClient()
    response = await send(client, origin, "/chunks")
    decoder = SSEDecoder()
    events = []
    while (chunk := await response.next_chunk(5)) is not None:
        events.extend(decoder.feed(chunk))
    assert [e.data for e in events] == [b"0", b"1", b"2", b"3", b"4"]
    # The finished connection went back to the pool and is reused.
    response = await send(client, origin, "/echo", b"x")
    assert await response.read(5) == b"x"
    assert len(state.peers) == 1
    client.close()


async def test_each_wait_has_its_own_limit_though_one_timer_serves_them(
    upstream: tuple[Upstream, Origin],
) -> None:
    # Five pieces 10 ms apart, each waited for with a 35 ms limit: the whole body takes
    # longer than any one limit, so the timer armed by the first wait must move on, not
    # expire the later waits.
    _, origin = upstream
    client = HttpClient()
    response = await send(client, origin, "/chunks")
    pieces = []
    while (chunk := await response.next_chunk(0.035)) is not None:
        pieces.append(chunk)
    assert b"".join(pieces).count(b"data: ") == 5
    # And a wait with nothing coming still ends at its own limit.
    response = await send(client, origin, "/done_then_hang")
    assert await response.next_chunk(5) == b"data: [DONE]\n\n"
    started = asyncio.get_running_loop().time()
    with pytest.raises(ReadTimeout):
        await response.next_chunk(0.1)
    assert 0.09 <= asyncio.get_running_loop().time() - started < 2
    client.close()


async def test_a_cut_stream_is_an_error_not_an_end(upstream: tuple[Upstream, Origin]) -> None:
    _, origin = upstream
    client = HttpClient()
    response = await send(client, origin, "/cut")
    assert await response.next_chunk(5) == b"data: partial\n\n"
    with pytest.raises(ConnectionDropped):
        await response.next_chunk(5)
    client.close()


async def test_a_released_stream_returns_its_connection_once_its_body_ends(
    upstream: tuple[Upstream, Origin],
) -> None:
    state, origin = upstream
    client = HttpClient()
    for _ in range(3):
        response = await send(client, origin, "/done_then_end")
        assert await response.next_chunk(5) == b"data: [DONE]\n\n"
        # The caller has its sentinel; the body's end arrives 50 ms later.
        response.release()
        await asyncio.sleep(0.2)
    assert state.requests == 3
    assert len(state.peers) == 1
    client.close()


async def test_a_released_stream_whose_body_never_ends_is_closed_not_reused(
    upstream: tuple[Upstream, Origin], monkeypatch: pytest.MonkeyPatch
) -> None:
    import switchpoint.transport.http_client as http_client

    monkeypatch.setattr(http_client, "_RELEASE_GRACE_S", 0.1)
    state, origin = upstream
    client = HttpClient()
    response = await send(client, origin, "/done_then_hang")
    assert await response.next_chunk(5) == b"data: [DONE]\n\n"
    connection = response._conn
    response.release()
    assert not connection.closed  # still waiting for its body's end
    await asyncio.sleep(0.3)
    assert connection.closed
    response = await send(client, origin, "/done_then_hang")
    response.close()
    assert len(state.peers) == 2
    client.close()


def test_sse_decoder_handles_split_events_crlf_and_multiline() -> None:
    decoder = SSEDecoder()
    stream = b'event: message_start\r\ndata: {"a":\r\ndata: 1}\r\n\r\n: comment\n\ndata: x\r'
    events = []
    for i in range(len(stream)):
        events.extend(decoder.feed(stream[i : i + 1]))
    events.extend(decoder.feed(b"\n\r\n"))
    assert [(e.event, e.data) for e in events] == [
        ("message_start", b'{"a":\n1}'),
        (None, b"x"),
    ]
    assert decoder.flush() == []


def test_sse_decoder_flushes_an_unterminated_last_event() -> None:
    decoder = SSEDecoder()
    assert [e.data for e in decoder.feed(b"data: one\n\ndata: two")] == [b"one"]
    rest = decoder.flush()
    assert [e.data for e in rest] == [b"two"]


def test_header_injection_is_refused() -> None:
    with pytest.raises(ValueError):
        encode_headers({"x-evil": "a\r\nhost: elsewhere"})


async def test_a_whole_body_larger_than_the_read_buffer_is_read_in_full(
    upstream: tuple[Upstream, Origin],
) -> None:
    # Past the client's high-water mark it stops reading from the socket until the body
    # is taken: a whole-body read must still get all of it.
    state, origin = upstream
    client = HttpClient()
    body = b"x" * (3 << 20)
    response = await send(client, origin, "/echo", body, connect_timeout=2)
    assert await response.read(timeout=2) == body
    # A whole, clean exchange: the connection goes back to the pool.
    again = await send(client, origin, "/echo", b"{}", connect_timeout=2)
    assert await again.read(timeout=2) == b"{}"
    assert len(state.peers) == 1
    client.close()


async def test_a_bounded_read_returns_its_limit_without_waiting_for_the_rest(
    upstream: tuple[Upstream, Origin],
) -> None:
    # An error page is read only as far as it is used: a huge or endless one neither
    # holds the attempt nor fills memory, and its connection is not reused.
    state, origin = upstream
    client = HttpClient()
    response = await send(client, origin, "/big_then_hang", b"{}", connect_timeout=2)
    started = asyncio.get_running_loop().time()
    assert await response.read(timeout=5, limit=65_536) == b"y" * 65_536
    assert asyncio.get_running_loop().time() - started < 2
    again = await send(client, origin, "/echo", b"{}", connect_timeout=2)
    assert await again.read(timeout=2) == b"{}"
    assert state.requests == 2 and len(state.peers) == 2  # /echo on a new connection
    client.close()


async def raw_upstream(answer: Callable[[asyncio.StreamWriter], Awaitable[None]]) -> Origin:
    """A TCP server that reads a request head and lets `answer` write whatever it likes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            await answer(writer)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return split_base_url(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")[0]


async def test_an_endless_response_head_is_refused_past_its_limit() -> None:
    # httptools has no limit of its own: headers kept coming used to be kept (600 MB in
    # 3 s on loopback) until the header time limit.
    async def endless_head(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\n")
        for i in range(100_000):
            writer.write(b"x-h%d: %s\r\n" % (i, b"v" * 100))
            await writer.drain()

    client = HttpClient()
    origin = await raw_upstream(endless_head)
    started = asyncio.get_running_loop().time()
    with pytest.raises(InvalidHttpResponse, match="response headers larger than 262144 bytes"):
        await send(client, origin, "/", b"{}", response_timeout=10)
    assert asyncio.get_running_loop().time() - started < 2
    client.close()


async def test_bytes_that_are_not_http_are_a_malformed_response() -> None:
    async def garbage(writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(5)

    client = HttpClient()
    with pytest.raises(InvalidHttpResponse, match="an invalid HTTP response") as caught:
        await send(client, await raw_upstream(garbage), "/", b"{}", response_timeout=10)
    assert caught.value.phase == "headers"
    client.close()


async def test_a_connect_the_gateway_has_no_descriptor_for_is_its_own_failure(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Out of descriptors, the connect fails before anything reaches the upstream: that
    is said as such (and logged once for many), not as the upstream refusing."""
    loop = asyncio.get_running_loop()
    failure = OSError(errno.EMFILE, "Too many open files")

    async def no_descriptor(*args: object, **kwargs: object) -> None:
        raise failure

    monkeypatch.setattr(loop, "create_connection", no_descriptor)
    client = HttpClient()
    origin = Origin("http", "127.0.0.1", 9)
    with caplog.at_level(logging.ERROR, logger="switchpoint.transport"):
        for _ in range(5):
            with pytest.raises(LocalResourcesExhausted) as caught:
                await send(client, origin, "/x", connect_timeout=2, response_timeout=2)
    assert "Too many open files" in str(caught.value)
    assert "not the provider's" in str(caught.value)
    lines = [r.getMessage() for r in caplog.records if r.name == "switchpoint.transport"]
    assert len(lines) == 1
    assert "open-file limit is" in lines[0]
    # Refused is the upstream's answer, not the gateway's exhaustion.
    failure = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
    with pytest.raises(ConnectError) as refused:
        await send(client, origin, "/x", connect_timeout=2, response_timeout=2)
    assert not isinstance(refused.value, LocalResourcesExhausted)
    client.close()
