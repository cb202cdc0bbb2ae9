"""The HTTP/1.1 server, spoken to over raw sockets: framing, limits, errors, streams."""

from __future__ import annotations

import gzip
import socket
import time
import zlib
from collections.abc import Iterator

import orjson
import pytest

from switchpoint.config.loader import parse_config
from switchpoint.events import Listener
from switchpoint.execution.records import CallRecord
from switchpoint.server.background import BackgroundServer
from tests.raw_http import Reader, post, read_response

SIMULATED = {
    "server": {"max_body_bytes": 4096, "request_read_timeout_s": 1.0},
    "providers": {
        name: {
            "type": "simulated",
            "simulation": {"latency_ms": 1, "chunk_delay_ms": 20, "output_tokens": 30},
        }
        for name in ("openai", "anthropic", "google")
    },
    "logging": {"access_log": False},
}


class Calls(Listener):
    def __init__(self) -> None:
        self.calls: list[CallRecord] = []

    def on_call(self, call: CallRecord) -> None:
        self.calls.append(call)


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(parse_config(SIMULATED)) as running:
        yield running


def connect(server: BackgroundServer) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=10)
    return sock


CHAT = orjson.dumps({"model": "cost_sensitive", "messages": [{"role": "user", "content": "hi"}]})


def test_keep_alive_serves_several_requests_on_one_connection(server: BackgroundServer) -> None:
    with connect(server) as sock:
        reader = Reader(sock)
        for _ in range(3):
            sock.sendall(post("/v1/chat/completions", CHAT))
            status, headers, body = reader.response()
            assert status == 200
            assert orjson.loads(body)["choices"][0]["message"]["content"]
            assert headers["x-switchpoint-model"] == "gpt-5.4"


def test_pipelined_requests_are_answered_in_order(server: BackgroundServer) -> None:
    with connect(server) as sock:
        sock.sendall(
            post("/v1/chat/completions", CHAT) + b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n"
        )
        reader = Reader(sock)
        first = reader.response()
        second = reader.response()
    assert first[0] == 200 and b"choices" in first[2]
    assert second == (200, second[1], b'{"status":"ok"}')


def test_oversized_body_is_refused_with_413_before_it_is_read(server: BackgroundServer) -> None:
    with connect(server) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\n\r\n"
        )
        status, _headers, body = read_response(sock)
    assert status == 413
    error = orjson.loads(body)["error"]
    assert "100000" in error["message"] and "4096" in error["message"]


def test_oversized_chunked_body_is_refused(server: BackgroundServer) -> None:
    chunk = b"x" * 3000
    with connect(server) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
            + b"%x\r\n%b\r\n" % (len(chunk), chunk) * 2
            + b"0\r\n\r\n"
        )
        status, _, body = read_response(sock)
    assert status == 413
    assert orjson.loads(body)["error"]["type"] == "invalid_request_error"


def test_expect_100_continue_is_honoured(server: BackgroundServer) -> None:
    with connect(server) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n"
            b"expect: 100-continue\r\ncontent-length: %d\r\n\r\n" % len(CHAT)
        )
        interim = sock.recv(100)
        assert interim.startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(CHAT)
        status, _, _ = read_response(sock)
    assert status == 200


def test_malformed_http_gets_a_json_400(server: BackgroundServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        status, _, body = read_response(sock)
    assert status == 400
    assert "malformed" in orjson.loads(body)["error"]["message"]


@pytest.mark.parametrize(
    ("request_bytes", "status", "fragment"),
    [
        (b"GET /v1/nowhere HTTP/1.1\r\nhost: x\r\n\r\n", 404, "no route"),
        (b"GET /v1/chat/completions HTTP/1.1\r\nhost: x\r\n\r\n", 405, "allowed: POST"),
        (post("/v1/chat/completions", b"{not json"), 400, "not valid JSON"),
        (post("/v1/chat/completions", b"[1,2]"), 400, "must be a JSON object"),
        (
            post("/v1/chat/completions", b'{"model":"cost_sensitive","messages":"hi"}'),
            400,
            "'messages' must be an array",
        ),
        (
            post("/v1/chat/completions", b'{"model":7,"messages":[]}'),
            400,
            "'model' must be a string",
        ),
    ],
)
def test_bad_requests_get_named_4xx(
    server: BackgroundServer, request_bytes: bytes, status: int, fragment: str
) -> None:
    with connect(server) as sock:
        sock.sendall(request_bytes)
        got, headers, body = read_response(sock)
    assert got == status
    assert fragment in orjson.loads(body)["error"]["message"]
    if status == 405:
        assert headers["allow"] == "POST"


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("coding", "encoded"),
    [
        ("gzip", gzip.compress(mtime=0, data=CHAT)),
        ("x-gzip", gzip.compress(mtime=0, data=CHAT)),
        ("deflate", zlib.compress(CHAT)),
        ("deflate", raw_deflate(CHAT)),  # as some clients send it
        ("identity", CHAT),
        ("deflate, gzip", gzip.compress(mtime=0, data=zlib.compress(CHAT))),
    ],
    ids=["gzip", "x-gzip", "deflate", "raw-deflate", "identity", "deflate-then-gzip"],
)
def test_a_compressed_body_is_decoded(
    server: BackgroundServer, coding: str, encoded: bytes
) -> None:
    with connect(server) as sock:
        sock.sendall(post("/v1/chat/completions", encoded, f"content-encoding: {coding}\r\n"))
        status, _, body = read_response(sock)
    assert status == 200, body
    assert orjson.loads(body)["object"] == "chat.completion"


@pytest.mark.parametrize(
    ("coding", "encoded", "status", "fragment"),
    [
        ("br", CHAT, 415, "Content-Encoding 'br' is not supported"),
        ("gzip", CHAT, 400, "not valid gzip data"),
        ("gzip", gzip.compress(mtime=0, data=CHAT)[:-12], 400, "truncated gzip data"),
        # 3 KB of gzip that would be 3 MB: the limit (4 KB here) applies to what it yields.
        (
            "gzip",
            gzip.compress(mtime=0, data=b" " * (3 << 20)),
            413,
            "decompresses past the limit of 4096",
        ),
    ],
    ids=["unsupported", "not-gzip", "truncated", "bomb"],
)
def test_a_body_in_a_coding_that_cannot_be_taken_is_refused_by_name(
    server: BackgroundServer, coding: str, encoded: bytes, status: int, fragment: str
) -> None:
    with connect(server) as sock:
        sock.sendall(post("/v1/chat/completions", encoded, f"content-encoding: {coding}\r\n"))
        got, _, body = read_response(sock)
    assert got == status
    assert fragment in orjson.loads(body)["error"]["message"]


def test_a_slow_client_is_cut_off_with_408(server: BackgroundServer) -> None:
    with connect(server) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 50\r\n\r\n{"
        )
        started = time.monotonic()
        status, _, _ = read_response(sock)
        assert sock.recv(10) == b""  # and the connection is closed
    assert status == 408
    assert time.monotonic() - started < 5


def test_http_1_0_gets_an_answer_and_a_close(server: BackgroundServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200")
    assert data.endswith(b'{"status":"ok"}')


def test_streams_are_chunked_and_properly_terminated(server: BackgroundServer) -> None:
    body = orjson.dumps(
        {"model": "cost_sensitive", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    )
    with connect(server) as sock:
        sock.sendall(post("/v1/chat/completions", body))
        status, headers, payload = read_response(sock)
    assert status == 200
    assert headers["transfer-encoding"] == "chunked"
    assert headers["content-type"] == "text/event-stream"
    events = [e for e in payload.split(b"\n\n") if e]
    assert events[-1] == b"data: [DONE]"
    assert len(events) > 10


def test_client_disconnect_mid_stream_abandons_the_upstream(server: BackgroundServer) -> None:
    assert server.gateway is not None
    calls = Calls()
    server.gateway.bus.subscribe(calls)
    body = orjson.dumps(
        {"model": "cost_sensitive", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    )
    with connect(server) as sock:
        sock.sendall(post("/v1/chat/completions", body))
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    deadline = time.monotonic() + 5
    while not calls.calls and time.monotonic() < deadline:
        time.sleep(0.02)
    assert calls.calls, "the abandoned call was never finished"
    call = calls.calls[0]
    assert call.status == "cancelled"
    assert call.served is not None and call.served.outcome == "cancelled"
    # The simulated stream takes 30 x 20 ms; it was abandoned well before that.
    assert call.duration_s < 0.5
    # What was generated before the client left is billed all the same. The provider
    # reports usage last, so the gateway's estimate stands in: the prompt as it counted
    # it, the output from the text it sent.
    served = call.served
    assert served.usage_estimated
    assert served.usage is not None
    assert served.usage.output_tokens >= 1
    assert served.usage.input_tokens == call.context_tokens > 0
    assert call.usage.input_tokens == call.context_tokens


# Answers far larger than what the kernel's socket buffers hold.
HUGE_ANSWERS = {
    **SIMULATED,
    "server": {"client_write_timeout_s": 0.5},
    "providers": {
        name: {
            "type": "simulated",
            "simulation": {"latency_ms": 1, "chunk_delay_ms": 0, "output_tokens": 2_000_000},
        }
        for name in ("openai", "anthropic", "google")
    },
}


def unread_socket(server: BackgroundServer) -> socket.socket:
    """A client with a small receive window that reads nothing: the gateway's send buffer
    fills."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect((server.host, server.port))
    return sock


def test_a_client_that_stops_reading_a_stream_is_disconnected() -> None:
    """A client that takes none of a stream for `client_write_timeout_s` is cut off and
    its call ends (cancelled), instead of holding the stream, its upstream connection and
    the gateway's buffer for as long as its host lives."""
    calls = Calls()
    with BackgroundServer(parse_config(HUGE_ANSWERS)) as running:
        assert running.gateway is not None
        running.gateway.bus.subscribe(calls)
        body = orjson.dumps(
            {
                "model": "cost_sensitive",
                "stream": True,
                "messages": [{"role": "user", "content": "hi"}],
            }
        )
        with unread_socket(running) as sock:
            sock.sendall(post("/v1/chat/completions", body))
            deadline = time.monotonic() + 8
            while not calls.calls and time.monotonic() < deadline:
                time.sleep(0.05)
            assert calls.calls, "the call of a client that stopped reading never ended"
            assert calls.calls[0].status == "cancelled"
            # The connection is gone: what the kernel had taken is readable, then its end.
            received = b""
            while chunk := sock.recv(1 << 20):
                received += chunk
            assert received.startswith(b"HTTP/1.1 200")
            assert not received.endswith(b"0\r\n\r\n"), "a cut stream must not look complete"


def test_an_unread_answer_does_not_hold_its_connection() -> None:
    """The same for a whole answer: written at once, it waits in the gateway's buffer
    until the client takes it; one that never does is dropped after the limit (a close
    would wait for the buffer to be sent, for ever)."""
    with BackgroundServer(parse_config(HUGE_ANSWERS)) as running:
        body = orjson.dumps(
            {"model": "cost_sensitive", "messages": [{"role": "user", "content": "hi"}]}
        )
        with unread_socket(running) as sock:
            sock.sendall(post("/v1/chat/completions", body))
            time.sleep(2.5)
            received = b""
            while chunk := sock.recv(1 << 20):
                received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    assert len(rest) < length
