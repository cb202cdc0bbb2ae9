"""What every connection of one server shares: the request handler, the error renderer,
the limits, the clock-driven date header, and the set of live connections."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from email.utils import formatdate
from typing import TYPE_CHECKING

import orjson

from switchpoint.server.request import Request
from switchpoint.server.response import Response, StreamingResponse

if TYPE_CHECKING:
    from switchpoint.server.protocol import HttpProtocol

Handler = Callable[[Request], Awaitable[Response | StreamingResponse]]
# Renders a protocol-level failure (bad HTTP, body too large) as a response body:
# (status, kind, message, request path or "" when unknown).
ErrorRenderer = Callable[[int, str, str, str], Response]


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
        # Set when graceful shutdown begins: answers from then on say `connection: close`
        # and end their connection, so that a keep-alive client cannot hold the drain open
        # with request after request (and then lose one it sent as the drain closed it).
        self.draining = False
        self.refresh_date()

    def refresh_date(self) -> None:
        self.date_header = f"date: {formatdate(usegmt=True)}\r\n".encode("latin-1")

    def sweep(self, now: float) -> None:
        for connection in list(self.connections):
            connection.check_timeouts(now)


def plain_error_renderer(status: int, kind: str, message: str, path: str) -> Response:
    """Protocol-level errors in OpenAI's shape (the protocol is not known yet)."""
    return Response(
        status,
        orjson.dumps({"error": {"message": message, "type": kind, "param": None, "code": None}}),
    )
