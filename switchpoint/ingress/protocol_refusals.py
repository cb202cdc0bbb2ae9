"""Requests the HTTP server refuses before any endpoint sees them (a body over the size
limit, malformed HTTP, an unsupported encoding). On a chat path such a refusal is
recorded as a refused call, so that the access log and `switchpoint_requests_total` count
it like any other client error: a client sending 50 MB bodies shows up. (Like every call
refused before a provider was tried, it consumed nothing and is not written to the
ledger.) Its answer carries its request id, as every chat answer does."""

from __future__ import annotations

import time
from collections.abc import Mapping

from switchpoint.execution.records import CallRecord
from switchpoint.gateway import Gateway
from switchpoint.ingress.request_ids import new_request_id, request_id_headers
from switchpoint.server.response import Response
from switchpoint.server.state import ErrorRenderer


class ProtocolRefusals:
    """An `ErrorRenderer` that renders with `render` and records chat-path refusals.

    `chat_protocols`: the chat endpoints' paths and the protocol each speaks."""

    def __init__(
        self, gateway: Gateway, render: ErrorRenderer, chat_protocols: Mapping[str, str]
    ) -> None:
        self._gateway = gateway
        self._render = render
        self._chat_protocols = chat_protocols

    def __call__(self, status: int, kind: str, message: str, path: str) -> Response:
        response = self._render(status, kind, message, path)
        protocol = self._chat_protocols.get(path)
        if protocol is not None:
            request_id = new_request_id()
            self._record(request_id, protocol, status, kind, message)
            response.headers = [*response.headers, *request_id_headers(protocol, request_id)]
        return response

    def _record(self, request_id: str, protocol: str, status: int, kind: str, message: str) -> None:
        gateway = self._gateway
        call = CallRecord(
            request_id=request_id,
            protocol=protocol,
            stream=False,
            started_wall=time.time(),
            started_at=gateway.clock(),
            status="client_error",
            http_status=status,
            error_kind=kind,
            error=message,
        )
        gateway.bus.call_started(call)
        gateway.bus.call(call)
