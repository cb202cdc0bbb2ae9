"""Client sockets as on a slow link, for tests of backpressure."""

from __future__ import annotations

import asyncio
import socket

import pytest

from switchpoint.server.protocol import HttpProtocol


def small_send_buffers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gateway's sockets to clients get small kernel buffers: a client that stops
    reading fills them at once, and the gateway's own buffer, not the kernel's, is then
    what fills (its writes pause)."""
    made = HttpProtocol.connection_made

    def small(protocol: HttpProtocol, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
        made(protocol, transport)

    monkeypatch.setattr(HttpProtocol, "connection_made", small)
