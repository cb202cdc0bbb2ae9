"""Pipelined requests on one connection: answered in order, never buffered without bound
for a client that does not read, and a refusal or an interim answer never cuts into the
answers of the requests read before it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson

from switchpoint.server.protocol import HttpProtocol, ServerState, plain_error_renderer
from switchpoint.server.request import Request
from switchpoint.server.response import Response, StreamingResponse

Handler = Callable[[Request], Awaitable[Response | StreamingResponse]]


@contextlib.asynccontextmanager
async def serving(
    handler: Handler, *, read_timeout_s: float = 5.0, keep_alive_s: float = 5.0
) -> AsyncIterator[int]:
    """The handler on a loopback port, with the timeout sweep the runner does (faster)."""
    loop = asyncio.get_running_loop()
    state = ServerState(
        handler,
        plain_error_renderer,
        max_body_bytes=1024,
        keep_alive_s=keep_alive_s,
        read_timeout_s=read_timeout_s,
    )
    server = await loop.create_server(lambda: HttpProtocol(state, loop), "127.0.0.1", 0)

    async def sweep() -> None:
        while True:
            await asyncio.sleep(0.05)
            state.sweep(loop.time())

    sweeper = loop.create_task(sweep())
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        sweeper.cancel()
        server.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
        return int(lines[0].split()[1]), headers, body
    body = b""
    while size := int(await reader.readuntil(b"\r\n"), 16):
        body += (await reader.readexactly(size + 2))[:-2]
    await reader.readexactly(2)
    return int(lines[0].split()[1]), headers, body


async def read_to_end(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.read(), 5)


async def answer_slowly(request: Request) -> Response:
    """Slow enough that whatever the client sends next arrives while this is in flight."""
    await asyncio.sleep(0.2)
    return Response(200, request.path.encode())


GET = b"GET /first HTTP/1.1\r\nhost: t\r\n\r\n"


async def test_a_client_that_never_reads_gets_no_more_requests_answered() -> None:
    """Without flow control, each answer of a pipelining client that never reads is
    buffered here: gigabytes from one connection. Reading stops instead."""
    answered = 0

    async def big(request: Request) -> Response:
        nonlocal answered
        answered += 1
        return Response(200, b"x" * 65536)

    sent = 500
    async with serving(big) as port:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        _, writer = await asyncio.open_connection(sock=sock)
        writer.write(b"GET /big HTTP/1.1\r\nhost: t\r\n\r\n" * sent)
        await asyncio.sleep(1.0)
        writer.transport.abort()
    # What the kernel's buffers hold, and a few more: not every one of them.
    assert answered < 100


async def test_a_refusal_behind_pipelined_requests_comes_after_their_answers() -> None:
    refusals = [
        (b"GARBAGE\r\n\r\n", 400),
        (b"POST /x HTTP/1.1\r\nhost: t\r\ncontent-length: 99999\r\n\r\n", 413),
        (b"GET /x HTTP/1.1\r\nhost: t\r\nx-big: " + b"a" * 70000 + b"\r\n\r\n", 431),
        (b"GET /x HTTP/2.0\r\nhost: t\r\n\r\n", 505),
        (b"GET /x HTTP/1.1\r\nhost: t\r\nexpect: something\r\n\r\n", 417),
    ]
    async with serving(answer_slowly) as port:
        for refused, status in refusals:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(GET + b"GET /second HTTP/1.1\r\nhost: t\r\n\r\n" + refused)
            for path in (b"/first", b"/second"):
                answer = await read_response(reader)
                assert (answer[0], answer[2]) == (200, path)
            got, headers, body = await read_response(reader)
            assert (got, headers["connection"]) == (status, "close"), body
            assert orjson.loads(body)["error"]["message"]
            assert await read_to_end(reader) == b""
            writer.close()


async def test_data_after_the_last_request_is_ignored() -> None:
    """A request that says it is the last is answered; what follows is not an error."""
    async with serving(answer_slowly) as port:
        for last in (
            b"GET /first HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n",
            b"GET /first HTTP/1.0\r\n\r\n",
        ):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(last + b"GET /second HTTP/1.1\r\nhost: t\r\n\r\n")
            status, headers, body = await read_response(reader)
            assert (status, body, headers["connection"]) == (200, b"/first", "close")
            assert await read_to_end(reader) == b""
            writer.close()


async def test_a_request_still_arriving_does_not_time_out_the_one_in_flight() -> None:
    """Its read time starts once the connection is free: the answer in flight arrives,
    then the late request gets its 408."""

    async def slower(request: Request) -> Response:
        await asyncio.sleep(0.8)
        return Response(200, b"done")

    async with serving(slower, read_timeout_s=0.3) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(GET)
        await asyncio.sleep(0.1)
        writer.write(b"GET /second HTTP/1.1\r\nhost:")
        assert (await read_response(reader))[2] == b"done"
        started = asyncio.get_running_loop().time()
        status, headers, _ = await read_response(reader)
        assert (status, headers["connection"]) == (408, "close")
        assert asyncio.get_running_loop().time() - started > 0.2
        writer.close()


async def test_expect_continue_waits_for_the_answer_before_it() -> None:
    """The interim `100 Continue` of a pipelined request is not written into the middle
    of the previous (streamed) answer, but after it."""

    async def handler(request: Request) -> Response | StreamingResponse:
        if request.path == "/stream":

            async def body() -> AsyncIterator[bytes]:
                for piece in (b"one", b"two", b"three"):
                    await asyncio.sleep(0.1)
                    yield piece

            return StreamingResponse(200, body())
        return Response(200, request.body)

    async with serving(handler) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /stream HTTP/1.1\r\nhost: t\r\n\r\n")
        await asyncio.sleep(0.05)
        writer.write(
            b"POST /echo HTTP/1.1\r\nhost: t\r\nexpect: 100-continue\r\ncontent-length: 4\r\n\r\n"
        )
        assert (await read_response(reader))[2] == b"onetwothree"
        interim = await asyncio.wait_for(reader.readexactly(25), 5)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"body")
        assert (await read_response(reader))[2] == b"body"
        writer.close()


async def test_expect_continue_is_not_sent_to_http_1_0() -> None:
    async with serving(answer_slowly) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /old HTTP/1.0\r\nexpect: 100-continue\r\ncontent-length: 2\r\n\r\n{}")
        data = await read_to_end(reader)
        assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"/old")
        writer.close()


async def test_an_internal_error_closes_the_connection_as_it_says() -> None:
    async def handler(request: Request) -> Response:
        if request.path == "/boom":
            raise RuntimeError("bug")
        return Response(200, b"fine")

    async with serving(handler) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /boom HTTP/1.1\r\nhost: t\r\n\r\nGET /after HTTP/1.1\r\nhost: t\r\n\r\n")
        status, headers, _ = await read_response(reader)
        assert (status, headers["connection"]) == (500, "close")
        assert await read_to_end(reader) == b""
        writer.close()
