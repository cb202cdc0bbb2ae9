"""A handler behind switchpoint's HTTP protocol on a loopback port, for the server tests."""

from __future__ import annotations

import asyncio

from switchpoint.server.protocol import Handler, HttpProtocol, ServerState, plain_error_renderer


async def serve_handler(handler: Handler) -> tuple[asyncio.AbstractServer, int]:
    """The listening server and its port (small limits: these tests send tiny requests)."""
    loop = asyncio.get_running_loop()
    state = ServerState(
        handler, plain_error_renderer, max_body_bytes=1024, keep_alive_s=5, read_timeout_s=5
    )
    server = await loop.create_server(lambda: HttpProtocol(state, loop), "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]
