"""A client that leaves between the answer's headers being decided and its first byte."""

from __future__ import annotations

import orjson

from switchpoint.config.loader import parse_config
from switchpoint.events import Listener
from switchpoint.execution.records import CallRecord
from switchpoint.gateway import Gateway
from switchpoint.ingress.chat_endpoint import ChatEndpoint
from switchpoint.server.app import OPENAI
from switchpoint.server.request import Request
from switchpoint.server.response import StreamingResponse


class Calls(Listener):
    def __init__(self) -> None:
        self.calls: list[CallRecord] = []

    def on_call(self, call: CallRecord) -> None:
        self.calls.append(call)


async def test_a_stream_closed_before_its_first_byte_is_finished_and_released(
    tmp_path: object,
) -> None:
    config = parse_config(
        {
            "providers": {
                name: {"type": "simulated", "simulation": {"latency_ms": 0, "chunk_delay_ms": 1}}
                for name in ("openai", "anthropic", "google")
            },
            "logging": {"access_log": False},
        }
    )
    gateway = Gateway(config)
    calls = Calls()
    gateway.bus.subscribe(calls)
    body = orjson.dumps(
        {"model": "cost_sensitive", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    )
    request = Request("POST", "/v1/chat/completions", "", {}, body, "test", "1.1")
    response = await ChatEndpoint(gateway, OPENAI)(request)
    assert isinstance(response, StreamingResponse)
    assert not calls.calls  # the stream is open, nothing recorded yet
    assert response.on_close is not None
    await response.body.aclose()  # type: ignore[attr-defined]  # never iterated
    await response.on_close()
    assert len(calls.calls) == 1
    call = calls.calls[0]
    assert call.status == "cancelled"
    assert call.http_status == 499  # left before any answer: nginx's "client closed"
    assert call.served is not None and call.served.outcome == "cancelled"
    await response.on_close()  # idempotent: recorded once
    assert len(calls.calls) == 1
    await gateway.aclose()
