"""Requests the HTTP server refuses before any endpoint sees them (here: bodies over the
limit) still count: on a chat path they are a refused call in the access log, in
`switchpoint_requests_total` and in the ledger's listeners, in the path's protocol."""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Iterator

import orjson
import pytest

from switchpoint.events import Listener
from switchpoint.execution.records import CallRecord
from switchpoint.observability.access_log import AccessLog
from switchpoint.server.background import BackgroundServer
from tests.fakes import OpenAIFake
from tests.observability.stack import gateway_config, running_gateway, scrape, total


class Calls(Listener):
    def __init__(self) -> None:
        self.calls: list[CallRecord] = []

    def on_call(self, call: CallRecord) -> None:
        self.calls.append(call)


@pytest.fixture
def backup_fake() -> Iterator[OpenAIFake]:
    with OpenAIFake() as fake:
        yield fake


def post_declaring(server: BackgroundServer, path: str, length: int) -> tuple[int, bytes]:
    """A POST whose Content-Length is over the limit: refused on its headers alone."""
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n".encode()
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def test_a_body_over_the_limit_is_a_counted_refused_call(
    openai_fake: OpenAIFake, backup_fake: OpenAIFake
) -> None:
    with running_gateway(gateway_config(openai_fake, backup_fake)) as server:
        assert server.gateway is not None
        calls = Calls()
        server.gateway.bus.subscribe(calls)
        limit = server.gateway.config.server.max_body_bytes
        status, body = post_declaring(server, "/v1/chat/completions", limit + 1)
        assert status == 413
        assert orjson.loads(body)["error"]["code"] == "request_too_large"
        status, body = post_declaring(server, "/v1/messages", limit + 1)
        assert status == 413
        assert orjson.loads(body)["error"]["type"] == "request_too_large"  # Anthropic's shape
        # Not a chat call: answered, not recorded as one.
        assert post_declaring(server, "/v1/route", limit + 1)[0] == 413
        deadline = time.monotonic() + 10
        while total(scrape(server), "switchpoint_requests_total", status="client_error") < 2:
            assert time.monotonic() < deadline, "the refusals were not counted"
            time.sleep(0.02)
        time.sleep(0.1)  # the /v1/route refusal too, had it been counted
        samples = scrape(server)
    assert total(samples, "switchpoint_requests_total", status="client_error") == 2
    assert [(c.protocol, c.http_status, c.error_kind, c.status) for c in calls.calls] == [
        ("openai_chat", 413, "request_too_large", "client_error"),
        ("anthropic_messages", 413, "request_too_large", "client_error"),
    ]
    assert openai_fake.request_count() == 0
    lines = io.BytesIO()
    log = AccessLog(lines)
    log.on_call(calls.calls[0])
    log.flush()
    entry = orjson.loads(lines.getvalue().splitlines()[0])
    assert entry["http_status"] == 413
    assert entry["request_id"] == calls.calls[0].request_id


def test_a_refused_chat_call_carries_its_request_id_where_each_sdk_reads_it(
    openai_fake: OpenAIFake, backup_fake: OpenAIFake
) -> None:
    # As every other answer of a chat path does: the id the access log records, for the
    # client to quote with its failure.
    with running_gateway(gateway_config(openai_fake, backup_fake)) as server:
        assert server.gateway is not None
        calls = Calls()
        server.gateway.bus.subscribe(calls)
        limit = server.gateway.config.server.max_body_bytes
        heads = {
            path: refused_head(server, path, limit + 1)
            for path in ("/v1/chat/completions", "/v1/messages", "/v1/route")
        }
    openai_call, anthropic_call = calls.calls
    assert heads["/v1/chat/completions"]["x-request-id"] == openai_call.request_id
    assert heads["/v1/chat/completions"]["x-switchpoint-request-id"] == openai_call.request_id
    assert heads["/v1/messages"]["request-id"] == anthropic_call.request_id
    assert "x-request-id" not in heads["/v1/messages"]
    # Not a chat call: no call, no id.
    assert "x-switchpoint-request-id" not in heads["/v1/route"]


def refused_head(server: BackgroundServer, path: str, length: int) -> dict[str, str]:
    """The headers of the answer to a POST declaring a body of `length` bytes."""
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n".encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer and (chunk := sock.recv(65536)):
            answer += chunk
    lines = answer.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")[1:]
    return {name.lower(): value.strip() for name, _, value in (h.partition(":") for h in lines)}
