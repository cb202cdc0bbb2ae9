"""Corners of HTTP/1.1 that real clients reach: upgrades offered, HEAD, trailers, a
half-closed socket, CRLFs between requests, unsupported versions, a missing, repeated or
malformed Host, HTTP/1.0 keep-alive, gzip with several members."""

from __future__ import annotations

import asyncio
import gzip
import os
import socket
import zlib
from collections.abc import AsyncIterator, Iterator

import orjson
import pytest

from switchpoint.config.loader import parse_config
from switchpoint.server.background import BackgroundServer
from switchpoint.server.content_coding import CodedBodyTooLarge, MalformedCoding, decode_body
from switchpoint.server.request import Request
from switchpoint.server.response import Response, StreamingResponse
from tests.raw_http import Reader, post
from tests.server.test_http_pipelining import read_response, read_to_end, serving


async def echo(request: Request) -> Response:
    """The request as the handler sees it."""
    headers = {name.decode(): value.decode() for name, value in request.headers.items()}
    return Response(
        200, orjson.dumps({"path": request.path, "headers": headers, "body": request.body.decode()})
    )


# --- Upgrade --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "offer",
    [
        b"upgrade: h2c\r\nconnection: Upgrade, HTTP2-Settings\r\nhttp2-settings: AAMAAABk\r\n",
        b"upgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-version: 13\r\n",
    ],
    ids=["h2c", "websocket"],
)
async def test_an_upgrade_offer_is_declined_and_the_request_answered(offer: bytes) -> None:
    """As `curl --http2 http://…` sends it: answered over HTTP/1.1, body and all, and
    the connection closed after (no keep-alive after an ignored upgrade)."""
    async with serving(echo) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /chat?x=1 HTTP/1.1\r\nhost: t\r\ncontent-length: 4\r\n" + offer + b"\r\nbody"
        )
        status, headers, body = await read_response(reader)
        assert (status, headers["connection"]) == (200, "close")
        seen = orjson.loads(body)
        assert (seen["path"], seen["body"]) == ("/chat", "body")
        assert "upgrade" not in seen["headers"] and seen["headers"]["host"] == "t"
        assert await read_to_end(reader) == b""
        writer.close()


async def test_an_upgrade_behind_a_pipelined_request_is_answered_in_turn() -> None:
    async with serving(echo) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"GET /first HTTP/1.1\r\nhost: t\r\n\r\n"
            b"GET /second HTTP/1.1\r\nhost: t\r\nupgrade: h2c\r\nconnection: upgrade\r\n\r\n"
        )
        paths = [orjson.loads((await read_response(reader))[2])["path"] for _ in range(2)]
        assert paths == ["/first", "/second"]
        assert await read_to_end(reader) == b""
        writer.close()


async def test_connect_is_refused() -> None:
    async with serving(echo) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n")
        assert (await read_response(reader))[0] == 400
        writer.close()


# --- HEAD -----------------------------------------------------------------------------


async def test_head_gets_the_head_and_no_body_and_the_connection_stays_usable() -> None:
    closed: list[bool] = []

    async def handler(request: Request) -> Response | StreamingResponse:
        if request.path == "/stream":

            async def body() -> AsyncIterator[bytes]:
                yield b"never sent"

            async def on_close() -> None:
                closed.append(True)

            return StreamingResponse(200, body(), on_close=on_close)
        return Response(200, b"0123456789", headers=[("x-kind", "whole")])

    async with serving(handler) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"HEAD /whole HTTP/1.1\r\nhost: t\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert b"content-length: 10\r\n" in head and b"x-kind: whole" in head
        writer.write(b"HEAD /stream HTTP/1.1\r\nhost: t\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200 ") and b"transfer-encoding: chunked" in head
        # Nothing else came: the next answer is the GET's, whole.
        writer.write(b"GET /whole HTTP/1.1\r\nhost: t\r\n\r\n")
        assert (await read_response(reader))[2] == b"0123456789"
        assert closed == [True]  # the stream nobody reads is closed all the same
        writer.close()


SIMULATED = {
    "providers": {
        name: {"type": "simulated", "simulation": {"latency_ms": 300}}
        for name in ("openai", "anthropic", "google")
    },
    "logging": {"access_log": False},
}


@pytest.fixture(scope="module")
def gateway() -> Iterator[BackgroundServer]:
    with BackgroundServer(parse_config(SIMULATED)) as running:
        yield running


def test_the_gateway_answers_head_like_get_without_the_body(gateway: BackgroundServer) -> None:
    with socket.create_connection((gateway.host, gateway.port), timeout=10) as sock:
        sock.sendall(
            b"HEAD /healthz HTTP/1.1\r\nhost: x\r\n\r\nGET /healthz HTTP/1.1\r\nhost: x\r\n\r\n"
        )
        data = b""
        while data.count(b"HTTP/1.1 200 ") < 2 or not data.endswith(b"}"):
            data += sock.recv(65536)
        head, _, rest = data.partition(b"\r\n\r\n")
        assert b"content-length: 15" in head
        assert rest.startswith(b"HTTP/1.1 200 ")  # no body between the two answers
        assert data.count(b'{"status":"ok"}') == 1
        sock.sendall(b"POST /healthz HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n")
        status, headers, _ = Reader(sock).response()
    assert (status, headers["allow"]) == (405, "GET, HEAD")


# --- Half-close -----------------------------------------------------------------------


def test_a_client_that_sends_its_fin_is_taken_as_gone(gateway: BackgroundServer) -> None:
    # A half-close (`nc -N`) looks like a client that gave up and closed, and agents
    # cancel calls by closing: the call is abandoned (its upstream request cancelled,
    # which stops the vendor's bill) and the connection closed, not answered.
    chat = orjson.dumps(
        {"model": "cost_sensitive", "messages": [{"role": "user", "content": "hi"}]}
    )
    with socket.create_connection((gateway.host, gateway.port), timeout=10) as sock:
        sock.sendall(post("/v1/chat/completions", chat))
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(65536) == b""


# --- Trailers -------------------------------------------------------------------------


CHUNKED = b"POST /chat HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\nx-kept: yes\r\n\r\n"


async def test_trailer_fields_are_not_merged_into_the_headers() -> None:
    """A fronting proxy checked the headers; a trailer must not add or extend one."""
    async with serving(echo) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            CHUNKED + b"4\r\nbody\r\n0\r\nauthorization: Bearer sneaky\r\nx-kept: more\r\n\r\n"
        )
        seen = orjson.loads((await read_response(reader))[2])
        assert seen["body"] == "body"
        assert "authorization" not in seen["headers"] and seen["headers"]["x-kept"] == "yes"
        writer.close()


async def test_trailers_count_against_the_head_limit() -> None:
    async with serving(echo) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(CHUNKED + b"0\r\n" + b"x-pad: " + b"a" * 70000 + b"\r\n\r\n")
        assert (await read_response(reader))[0] == 431
        writer.close()


@pytest.mark.parametrize("coding", [b"gzip, chunked", b"deflate,chunked", b"x-custom, chunked"])
async def test_a_transfer_coding_other_than_chunked_is_refused(coding: bytes) -> None:
    """RFC 9112 §6.1: 501. It was ignored, so a gzip transfer coding left the body still
    compressed and the client was told its JSON was invalid (found by a security probe)."""
    body = gzip.compress(b'{"a": 1}')
    async with serving(echo) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /chat HTTP/1.1\r\nhost: t\r\ntransfer-encoding: "
            + coding
            + b"\r\n\r\n"
            + b"%x\r\n" % len(body)
            + body
            + b"\r\n0\r\n\r\n"
        )
        status, _, answer = await read_response(reader)
        assert status == 501
        assert b"chunked transfer coding" in answer
        writer.close()


async def test_chunked_in_any_case_is_still_read() -> None:
    async with serving(echo) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(CHUNKED.replace(b"chunked", b"Chunked") + b"4\r\nbody\r\n0\r\n\r\n")
        status, _, answer = await read_response(reader)
        assert status == 200 and orjson.loads(answer)["body"] == "body"
        writer.close()


# --- Timeouts -------------------------------------------------------------------------


async def test_crlfs_between_requests_do_not_keep_a_connection_open() -> None:
    """Empty lines before a request line start no request (and no read timer): they must
    not count as activity either, or two bytes a minute hold a connection for ever."""
    async with serving(echo, keep_alive_s=0.3) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        closed = asyncio.get_running_loop().create_task(reader.read())
        for _ in range(15):
            if closed.done():
                break
            writer.write(b"\r\n")
            await asyncio.sleep(0.1)
        # Closed (a reset when a CRLF was in flight as it closed).
        assert closed.done()
        assert isinstance(closed.exception(), ConnectionResetError) or closed.result() == b""
        writer.close()


# --- Versions -------------------------------------------------------------------------


@pytest.mark.parametrize("version", [b"HTTP/2.0", b"HTTP/0.9"])
async def test_versions_other_than_1_x_are_refused_with_505(version: bytes) -> None:
    async with serving(echo) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / " + version + b"\r\nhost: t\r\n\r\n")
        assert (await read_response(reader))[0] == 505
        writer.close()


# --- Host (RFC 9112 §3.2) -------------------------------------------------------------


async def test_an_http_1_1_request_without_host_is_refused_and_the_connection_closed() -> None:
    async with serving(echo) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /x HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\nhost: t\r\n\r\n")
        status, headers, body = await read_response(reader)
        assert (status, headers["connection"]) == (400, "close")
        assert "Host" in orjson.loads(body)["error"]["message"]
        assert await read_to_end(reader) == b""  # the request after it is not answered
        writer.close()


async def test_a_request_without_host_is_refused_after_those_before_it_are_answered() -> None:
    async with serving(echo) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /first HTTP/1.1\r\nhost: t\r\n\r\nPOST /x HTTP/1.1\r\n\r\n")
        status, _, body = await read_response(reader)
        assert (status, orjson.loads(body)["path"]) == (200, "/first")
        assert (await read_response(reader))[0] == 400
        assert await read_to_end(reader) == b""
        writer.close()


@pytest.mark.parametrize(
    "host_lines",
    [
        b"host: a\r\nhost: b\r\n",  # two Host lines
        b"host: a, b\r\n",
        b"host: a b\r\n",
        b"host: user@a\r\n",
        b"host: a/b\r\n",
    ],
)
@pytest.mark.parametrize("version", [b"HTTP/1.1", b"HTTP/1.0"])
async def test_several_hosts_or_one_that_is_no_host_are_refused(
    host_lines: bytes, version: bytes
) -> None:
    async with serving(echo) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /x " + version + b"\r\n" + host_lines + b"\r\n")
        status, _, body = await read_response(reader)
        assert status == 400
        assert "Host" in orjson.loads(body)["error"]["message"]
        writer.close()


@pytest.mark.parametrize(
    "host", [b"example.com", b"127.0.0.1:8080", b"[::1]:8080", b"gw.internal.", b""]
)
async def test_a_host_with_a_port_or_an_ip_literal_is_served(host: bytes) -> None:
    async with serving(echo) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /ok HTTP/1.1\r\nhost: " + host + b"\r\n\r\n")
        status, _, body = await read_response(reader)
        assert (status, orjson.loads(body)["path"]) == (200, "/ok")
        writer.close()


async def test_an_http_1_0_request_needs_no_host() -> None:
    async with serving(echo) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /old HTTP/1.0\r\n\r\n")
        status, _, body = await read_response(reader)
        assert (status, orjson.loads(body)["path"]) == (200, "/old")
        writer.close()


def test_the_gateway_refuses_a_request_without_host_in_its_path_s_protocol(
    gateway: BackgroundServer,
) -> None:
    """Through the gateway's error renderer: under /v1/messages, Anthropic's shape."""
    with socket.create_connection((gateway.host, gateway.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/messages HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}")
        status, headers, body = Reader(sock).response()
        assert sock.recv(10) == b""  # and the connection is closed
    assert (status, headers["connection"]) == (400, "close")
    error = orjson.loads(body)
    assert error["type"] == "error" and "Host" in error["error"]["message"]


# --- HTTP/1.0 keep-alive --------------------------------------------------------------


async def test_an_http_1_0_request_kept_alive_is_told_so() -> None:
    """An HTTP/1.0 client takes a connection to close unless the answer says otherwise."""
    async with serving(echo) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for path in (b"/one", b"/two"):
            writer.write(b"GET " + path + b" HTTP/1.0\r\nconnection: keep-alive\r\n\r\n")
            status, headers, body = await read_response(reader)
            assert (status, headers["connection"]) == (200, "keep-alive")
            assert orjson.loads(body)["path"] == path.decode()
        writer.write(b"HEAD /three HTTP/1.0\r\nconnection: keep-alive\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert b"connection: keep-alive\r\n" in head
        writer.write(b"GET /last HTTP/1.0\r\n\r\n")  # no keep-alive asked: closed
        assert (await read_response(reader))[1]["connection"] == "close"
        assert await read_to_end(reader) == b""
        writer.close()


async def test_http_1_1_answers_say_nothing_of_keep_alive() -> None:
    async with serving(echo) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /x HTTP/1.1\r\nhost: t\r\nconnection: keep-alive\r\n\r\n")
        status, headers, _ = await read_response(reader)
        assert status == 200 and "connection" not in headers
        writer.close()


async def test_a_stream_to_http_1_0_still_ends_with_the_connection() -> None:
    async def stream(request: Request) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield b"streamed"

        return StreamingResponse(200, body())

    async with serving(stream) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /s HTTP/1.0\r\nconnection: keep-alive\r\n\r\n")
        data = await read_to_end(reader)
        head, _, body = data.partition(b"\r\n\r\n")
        assert b"connection: close\r\n" in head and body == b"streamed"
        writer.close()


# --- gzip -----------------------------------------------------------------------------


def test_every_gzip_member_is_decoded() -> None:
    body = gzip.compress(b'{"a":', mtime=0) + gzip.compress(b"1}", mtime=0)
    assert decode_body(body, b"gzip", 100) == b'{"a":1}'


@pytest.mark.parametrize(
    "trailing",
    [b"\x00GARBAGE", b"\x1f", b"\x1f\x8bnot gzip"],
    ids=["junk", "half-magic", "bad-member"],
)
def test_data_after_a_gzip_body_is_refused(trailing: bytes) -> None:
    with pytest.raises(MalformedCoding):
        decode_body(gzip.compress(b"{}", mtime=0) + trailing, b"gzip", 100)


def test_the_limit_holds_over_all_the_members() -> None:
    member = gzip.compress(b" " * 60, mtime=0)
    assert len(decode_body(member, b"gzip", 100)) == 60
    with pytest.raises(CodedBodyTooLarge):
        decode_body(member * 2, b"gzip", 100)


def test_members_are_decoded_across_the_slices_zlib_is_fed() -> None:
    # Incompressible, so each member's data spans several of the slices fed to zlib, and
    # the second member starts in the middle of one.
    first, second = os.urandom(700_000), os.urandom(300_000)
    body = gzip.compress(first, mtime=0) + gzip.compress(second, mtime=0)
    assert decode_body(body, b"gzip", 2_000_000) == first + second
    with pytest.raises(MalformedCoding, match="truncated"):
        decode_body(body[:-10], b"gzip", 2_000_000)
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    for deflated in (zlib.compress(first), raw.compress(first) + raw.flush()):
        assert decode_body(deflated, b"deflate", 2_000_000) == first


def test_a_body_of_thousands_of_gzip_members_is_refused_at_once() -> None:
    # Found by a security probe: 3 MB of empty members took seconds to decode, on the
    # event loop, before authentication (each member copied the rest of the body).
    # Now the 65th member is refused, without reading the others.
    empty = gzip.compress(b"", mtime=0)
    assert decode_body(empty * 64, b"gzip", 100) == b""
    with pytest.raises(MalformedCoding, match="more than 64 gzip members"):
        decode_body(empty * (3 * 1024 * 1024 // len(empty)), b"gzip", 4 * 1024 * 1024)
