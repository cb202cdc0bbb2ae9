"""A request's body is not held by its connection once it is read, nor once its client
has left half-way through sending it.

A connection and its parser reference each other (the parser calls the connection's
methods), so a closed connection waits for a garbage collection to be freed, and in a
serving process those are rare (`server/heap.py`). Whatever large it still held waited
with it: a client that sent a 2 MB conversation and hung up (or had its call cancelled)
left 2 MB behind per connection, and a worker's memory grew by hundreds of megabytes
under cancelled calls. Found by a client-fault probe."""

from __future__ import annotations

import asyncio
import tracemalloc

import pytest

from switchpoint.server.protocol import HttpProtocol, ServerState, plain_error_renderer
from switchpoint.server.request import Request
from switchpoint.server.response import Response

BODY = b"x" * (2 << 20)
CLIENTS = 6


async def answer(request: Request) -> Response:
    return Response(200, b'{"ok": true}')


async def _send(port: int, *, whole: bool) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-length: %d\r\n\r\n"
    writer.write(head % len(BODY) + (BODY if whole else BODY[: len(BODY) // 2]))
    await writer.drain()
    if whole:
        assert (await reader.readline()).startswith(b"HTTP/1.1 200")
    else:
        await asyncio.sleep(0.05)  # the server reads what was sent
    writer.close()
    await writer.wait_closed()


@pytest.mark.usefixtures("collections_wait")
async def test_a_closed_connection_holds_none_of_its_requests_body() -> None:
    loop = asyncio.get_running_loop()
    state = ServerState(
        answer, plain_error_renderer, max_body_bytes=8 << 20, keep_alive_s=5, read_timeout_s=5
    )
    server = await loop.create_server(lambda: HttpProtocol(state, loop), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for whole in [True, False] * (CLIENTS // 2):
            await _send(port, whole=whole)
        for _ in range(100):
            if not state.connections:
                break
            await asyncio.sleep(0.01)
        assert not state.connections
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        server.close()
        await server.wait_closed()
    # Less than one body, for all of them (the closed connections themselves remain).
    assert held < len(BODY) // 2, f"{held / 1e6:.1f} MB still held"
