"""How a streamed body goes on the wire: the head with the first piece, each piece as it
comes, the final piece with the end of the response after its owner's bookkeeping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from switchpoint.server.request import Request
from switchpoint.server.response import FinalPiece, Response, StreamingResponse
from tests.server.loopback import serve_handler


async def _serve() -> tuple[asyncio.AbstractServer, int, list[str]]:
    events: list[str] = []

    async def handler(request: Request) -> Response | StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            try:
                yield b"first"
                await asyncio.sleep(0.05)
                yield b"second"
                yield FinalPiece(b"last")
                events.append("bookkeeping")
            finally:
                events.append("closed")

        return StreamingResponse(200, body())

    server, port = await serve_handler(handler)
    return server, port, events


async def _read_until(reader: asyncio.StreamReader, marker: bytes) -> tuple[bytes, list[bytes]]:
    """Everything up to `marker`, and the pieces it arrived in."""
    data = b""
    reads: list[bytes] = []
    while marker not in data:
        piece = await asyncio.wait_for(reader.read(65536), 5)
        assert piece, f"connection closed; have {data!r}"
        reads.append(piece)
        data += piece
    return data, reads


async def test_pieces_are_chunked_and_the_final_one_ends_the_response() -> None:
    server, port, events = await _serve()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /x HTTP/1.1\r\nhost: t\r\ncontent-length: 0\r\n\r\n")
        first, first_reads = await _read_until(reader, b"first\r\n")
        # The head and the first piece arrive together, before the second piece exists.
        assert first.startswith(b"HTTP/1.1 200 ")
        assert b"transfer-encoding: chunked" in first
        assert len(first_reads) == 1
        rest, _ = await _read_until(reader, b"0\r\n\r\n")
        assert rest == b"6\r\nsecond\r\n4\r\nlast\r\n0\r\n\r\n"
        # The owner's bookkeeping after the final piece ran before the response ended.
        assert events == ["bookkeeping", "closed"]
        writer.close()
    finally:
        server.close()


async def test_a_streamed_response_lets_go_of_its_headers_once_the_head_is_rendered() -> None:
    """A stream may last minutes; its headers are not kept that long (with thousands in
    flight, each pair is one more object for every garbage collection to walk)."""
    seen: list[object] = []
    responses: list[StreamingResponse] = []

    async def handler(request: Request) -> Response | StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            seen.append(responses[0].headers)
            yield FinalPiece(b"only")

        responses.append(StreamingResponse(200, body(), headers=[("x-explain", "yes")]))
        return responses[0]

    server, port = await serve_handler(handler)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /x HTTP/1.1\r\nhost: t\r\ncontent-length: 0\r\n\r\n")
        data, _ = await _read_until(reader, b"0\r\n\r\n")
        writer.close()
    finally:
        server.close()
    assert b"x-explain: yes\r\n" in data
    assert seen == [()]
