"""The practical floor for a Python HTTP proxy on this machine: uvloop, httptools parsing
on both sides, pooled keep-alive upstream connections, one write per read.

It does nothing a gateway does (no routing, no accounting, no logging; it does not even
rewrite headers: request and response bytes pass through as they are), so what it adds
over going direct is the cost of the event loop, the parsers and the extra hop's system
calls. With `--sse-work` it also splits, decodes and re-encodes every SSE event of a
streamed body with switchpoint's own OpenAI stream codec, in the read callback, and
discards the result: the floor for a relay that must understand the stream, which
separates that work's cost from the cost of the way switchpoint's relay is structured.
With `--task-relay` the response's bytes reach the client the way switchpoint's do: a
future resolved per read wakes a task, and each read climbs three async generators to the
coroutine that writes it; that separates the cost of the asyncio machinery.

A target to compare switchpoint with, not a proxy to use: it assumes one request at a
time per client connection (no pipelining), as every load generator here sends.

Run: python -m bench.floor_proxy --port P --upstream http://127.0.0.1:U [--cpu 1] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httptools
import uvloop

_READY = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
_BAD_GATEWAY = b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class Upstream(asyncio.Protocol):
    """One pooled connection to the upstream; relays one response at a time."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.client: Client | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.events: _EventWork | None = None
        self.relay: _TaskRelay | None = None

    def on_headers_complete(self) -> None:
        if self.pool.sse_work:
            self.events = _EventWork()

    def on_body(self, body: bytes) -> None:
        if self.events is not None:
            self.events.feed(body)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        client = self.client
        if self.relay is not None:
            self.relay.feed(data)
        elif client is not None and client.transport is not None:
            client.transport.write(data)
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        if self.relay is not None:
            self.relay.feed(None)
            self.relay = None
        client, self.client = self.client, None
        self.pool.release(self)
        if client is not None:
            client.exchange_done()

    def connection_lost(self, exc: Exception | None) -> None:
        self.pool.discard(self)
        client, self.client = self.client, None
        if client is not None and client.transport is not None:
            client.transport.close()


class _EventWork:
    """`--sse-work`: what a relay that understands the stream does per event."""

    def __init__(self) -> None:
        from switchpoint.protocols.openai.stream import StreamDecoder, StreamEncoder
        from switchpoint.transport.sse import SSEDecoder

        self.sse = SSEDecoder()
        self.decoder = StreamDecoder()
        self.encoder = StreamEncoder(include_usage=True, fallback_id="floor")
        self.last = b""

    def feed(self, body: bytes) -> None:
        encode, decode = self.encoder.encode, self.decoder.decode
        events = [event for sse in self.sse.feed(body) for event in decode(sse)]
        self.last = b"".join([encode(event) for event in events])


class _TaskRelay:
    """`--task-relay`: one response's bytes, from the upstream's read callback to the
    client's socket through a future, a task, three async generators and a coroutine."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self.loop = loop
        self.chunks: list[bytes] = []
        self.ended = False
        self.waiter: asyncio.Future[None] | None = None
        self.task = loop.create_task(self.write_all())

    def feed(self, data: bytes | None) -> None:
        if data is None:
            self.ended = True
        else:
            self.chunks.append(data)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next_chunk(self) -> bytes | None:
        while not self.chunks:
            if self.ended:
                return None
            self.waiter = self.loop.create_future()
            await self.waiter
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data

    async def reads(self) -> AsyncIterator[list[bytes]]:
        while (chunk := await self.next_chunk()) is not None:
            yield [chunk]

    async def batches(self) -> AsyncIterator[list[bytes]]:
        async for batch in self.reads():
            yield list(batch)

    async def pieces(self) -> AsyncIterator[bytes]:
        async for batch in self.batches():
            yield b"".join(batch)

    async def write_all(self) -> None:
        async for piece in self.pieces():
            self.transport.write(piece)


class Pool:
    def __init__(
        self,
        host: str,
        port: int,
        loop: asyncio.AbstractEventLoop,
        *,
        sse_work: bool = False,
        task_relay: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.loop = loop
        self.sse_work = sse_work
        self.task_relay = task_relay
        self.idle: list[Upstream] = []

    def release(self, conn: Upstream) -> None:
        self.idle.append(conn)

    def discard(self, conn: Upstream) -> None:
        if conn in self.idle:
            self.idle.remove(conn)

    async def connect(self) -> Upstream:
        _, conn = await self.loop.create_connection(lambda: Upstream(self), self.host, self.port)
        return conn


class Client(asyncio.Protocol):
    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.raw: list[bytes] = []
        self.url = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.raw.append(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url = url

    def on_message_complete(self) -> None:
        request = b"".join(self.raw)
        self.raw = []
        if self.url.startswith(b"/readyz"):
            if self.transport is not None:
                self.transport.write(_READY)
            return
        self.pause()
        if self.pool.idle:
            self.send(self.pool.idle.pop(), request)
        else:
            self.pool.loop.create_task(self.connect_and_send(request))

    async def connect_and_send(self, request: bytes) -> None:
        try:
            conn = await self.pool.connect()
        except OSError:
            if self.transport is not None:
                self.transport.write(_BAD_GATEWAY)
                self.transport.close()
            return
        self.send(conn, request)

    def send(self, conn: Upstream, request: bytes) -> None:
        conn.client = self
        if self.pool.task_relay and self.transport is not None:
            conn.relay = _TaskRelay(self.transport, self.pool.loop)
        assert conn.transport is not None
        conn.transport.write(request)

    def pause(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def exchange_done(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()


async def serve(
    port: int, upstream: str, *, sse_work: bool = False, task_relay: bool = False
) -> None:
    parts = urlsplit(upstream)
    loop = asyncio.get_running_loop()
    pool = Pool(
        parts.hostname or "127.0.0.1",
        parts.port or 80,
        loop,
        sse_work=sse_work,
        task_relay=task_relay,
    )
    server = await loop.create_server(
        lambda: Client(pool), "127.0.0.1", port, backlog=4096, reuse_port=True
    )
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--cpu", default=None, help="CPU list to pin to, e.g. 1")
    parser.add_argument("--workers", type=int, default=1, help="processes on one port")
    parser.add_argument("--sse-work", action="store_true",
                        help="also decode and re-encode every SSE event (result discarded)")
    parser.add_argument("--task-relay", action="store_true",
                        help="relay responses through a task and async generators")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {int(c) for c in args.cpu.split(",")})
    children: list[int] = []
    for _ in range(args.workers - 1):
        pid = os.fork()
        if pid == 0:
            children = []
            break
        children.append(pid)
    try:
        uvloop.run(
            serve(args.port, args.upstream, sse_work=args.sse_work, task_relay=args.task_relay)
        )
    finally:
        for pid in children:
            os.kill(pid, signal.SIGTERM)


if __name__ == "__main__":
    main()
