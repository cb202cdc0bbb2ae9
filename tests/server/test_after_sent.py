"""A whole response's `after_sent` bookkeeping runs once its bytes are on the socket,
before the connection's next request, and a failure in it never becomes a response."""

from __future__ import annotations

import asyncio
import socket

from switchpoint.server.request import Request
from switchpoint.server.response import Response, StreamingResponse
from tests.server.loopback import serve_handler

_REQUEST = b"GET /%d HTTP/1.1\r\nhost: t\r\n\r\n"


async def test_after_sent_runs_once_the_client_can_read_the_answer() -> None:
    client = socket.socket()
    events: list[str] = []

    async def handler(request: Request) -> Response | StreamingResponse:
        n = request.path.strip("/")
        events.append(f"handle {n}")

        def after_sent() -> None:
            # The client's socket already holds the answer when the bookkeeping runs.
            seen = client.recv(65536, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            events.append(f"after {n}: {b'answer ' + n.encode() in seen}")
            if n == "1":
                raise RuntimeError("a listener bug")

        return Response(200, b"answer " + n.encode(), after_sent=after_sent)

    loop = asyncio.get_running_loop()
    server, port = await serve_handler(handler)
    try:
        client.setblocking(False)
        await loop.sock_connect(client, ("127.0.0.1", port))
        # Two pipelined requests: the first's bookkeeping must run before the second.
        await loop.sock_sendall(client, (_REQUEST % 1) + (_REQUEST % 2))
        received = b""
        while received.count(b"HTTP/1.1") < 2 or not received.endswith(b"answer 2"):
            piece = await asyncio.wait_for(loop.sock_recv(client, 65536), 5)
            assert piece, received
            received += piece
        assert events == ["handle 1", "after 1: True", "handle 2", "after 2: True"]
        # The failing bookkeeping did not turn into a second (error) response.
        assert received.count(b"HTTP/1.1 200 OK") == 2
        assert b" 500 " not in received
    finally:
        client.close()
        server.close()
