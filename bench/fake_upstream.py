"""The fake OpenAI-compatible upstream: as fast as Python can answer, so it is never the
bottleneck and every microsecond measured through a proxy belongs to the proxy.

Raw `asyncio.Protocol` + httptools on uvloop, HTTP/1.1 keep-alive, responses prebuilt as
bytes. `POST .../chat/completions` answers a small fixed completion with usage, or, when
the body asks for `"stream": true`, `chat.completion.chunk` SSE events (N chunks, an
optional gap between them, a usage chunk, then `data: [DONE]`) in chunked encoding.

Control endpoints (called by the harness directly, never through a proxy):
  POST /_bench/config  {"chunks": 20, "gap_ms": 0}   stream shape for later requests
  GET  /_bench/stats                                  {"requests": n, "streams": n}
  GET  /readyz                                        200 once listening

Run: python -m bench.fake_upstream --port P [--cpu 1] [--chunks 20] [--gap-ms 0]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import re
import signal
import socket
import sys
from pathlib import Path

import httptools
import orjson
import uvloop

from bench.procs import ManagedProcess, StartError, free_port

# `"stream": true` anywhere in the body; `"stream_options"` does not match.
_STREAM_RE = re.compile(rb'"stream"\s*:\s*true')
# Bytes kept between body pieces so a match split across two reads is still found.
_CARRY = 32

_COMPLETION = orjson.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "bench-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello from the fake upstream."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
    }
)
_JSON_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
)
_NONSTREAM_RESPONSE = _JSON_HEAD % len(_COMPLETION) + _COMPLETION
_SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)
_LAST_CHUNK = b"0\r\n\r\n"
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
_OK_TEXT = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


def _http_chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _sse(obj: object) -> bytes:
    return _http_chunk(b"data: " + orjson.dumps(obj) + b"\n\n")


def build_stream_events(chunks: int) -> list[bytes]:
    """The HTTP chunks of one stream: `chunks` content events, usage, [DONE], terminator."""
    events: list[bytes] = []
    for i in range(chunks):
        delta: dict[str, str] = {"content": f"tok{i} "}
        if i == 0:
            delta["role"] = "assistant"
        events.append(
            _sse(
                {
                    "id": "chatcmpl-bench",
                    "object": "chat.completion.chunk",
                    "created": 1700000000,
                    "model": "bench-model",
                    "choices": [
                        {
                            "index": 0,
                            "delta": delta,
                            "finish_reason": "stop" if i == chunks - 1 else None,
                        }
                    ],
                }
            )
        )
    events.append(
        _sse(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion.chunk",
                "created": 1700000000,
                "model": "bench-model",
                "choices": [],
                "usage": {
                    "prompt_tokens": 12,
                    "completion_tokens": chunks,
                    "total_tokens": 12 + chunks,
                },
            }
        )
    )
    events.append(_http_chunk(b"data: [DONE]\n\n") + _LAST_CHUNK)
    return events


class Settings:
    """Stream shape, changeable at run time through /_bench/config."""

    def __init__(self, chunks: int, gap_ms: float) -> None:
        self.requests = 0
        self.streams = 0
        self.set(chunks, gap_ms)

    def set(self, chunks: int, gap_ms: float) -> None:
        self.chunks = max(1, chunks)
        self.gap_s = max(0.0, gap_ms) / 1000.0
        self.events = build_stream_events(self.chunks)
        # With no gap the whole stream goes out in one write: the cheapest possible upstream.
        self.whole_stream = _SSE_HEAD + b"".join(self.events)


class UpstreamProtocol(asyncio.Protocol):
    __slots__ = (
        "_body",
        "_carry",
        "_loop",
        "_method",
        "_parser",
        "_settings",
        "_stream",
        "_transport",
        "_url",
    )

    def __init__(self, settings: Settings, loop: asyncio.AbstractEventLoop) -> None:
        self._settings = settings
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._carry = b""
        self._stream = False
        self._body: bytearray | None = None
        self._method = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._carry = b""
        self._stream = False
        self._body = None

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_headers_complete(self) -> None:
        self._method = self._parser.get_method()
        if self._url.startswith(b"/_bench/config"):
            self._body = bytearray()

    def on_body(self, body: bytes) -> None:
        if self._body is not None:
            self._body += body
            return
        if not self._stream:
            window = self._carry + body
            if _STREAM_RE.search(window) is not None:
                self._stream = True
            else:
                self._carry = window[-_CARRY:]

    def on_message_complete(self) -> None:
        transport = self._transport
        if transport is None:
            return
        url = self._url
        settings = self._settings
        if self._method == b"POST" and url.endswith(b"/chat/completions"):
            settings.requests += 1
            if not self._stream:
                transport.write(_NONSTREAM_RESPONSE)
            else:
                settings.streams += 1
                if settings.gap_s == 0.0:
                    transport.write(settings.whole_stream)
                else:
                    transport.write(_SSE_HEAD + settings.events[0])
                    self._loop.call_later(settings.gap_s, self._send_event, settings.events, 1)
        elif url.startswith(b"/_bench/config"):
            doc = orjson.loads(bytes(self._body or b"{}"))
            settings.set(int(doc.get("chunks", settings.chunks)),
                         float(doc.get("gap_ms", settings.gap_s * 1000.0)))
            transport.write(_OK_TEXT)
        elif url.startswith(b"/_bench/stats"):
            body = orjson.dumps({"requests": settings.requests, "streams": settings.streams})
            transport.write(_JSON_HEAD % len(body) + body)
        elif url.startswith(b"/readyz") or url.startswith(b"/healthz"):
            transport.write(_OK_TEXT)
        else:
            transport.write(_NOT_FOUND)
        if not self._parser.should_keep_alive():
            transport.close()

    def _send_event(self, events: list[bytes], index: int) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.write(events[index])
        if index + 1 < len(events):
            # The usage chunk, [DONE] and terminator follow the last content chunk at once.
            delay = self._settings.gap_s if index + 1 < len(events) - 2 else 0.0
            if delay == 0.0:
                self._send_event(events, index + 1)
            else:
                self._loop.call_later(delay, self._send_event, events, index + 1)


def listen_socket(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


def raise_fd_limit() -> None:
    """Thousands of concurrent streams need thousands of sockets."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def serve(host: str, port: int, settings: Settings) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: UpstreamProtocol(settings, loop), sock=listen_socket(host, port), backlog=4096
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


_ROOT = Path(__file__).resolve().parent.parent


def start(
    log_path: Path, cpus: set[int] | None, *, attempts: int = 3
) -> tuple[ManagedProcess, int]:
    """Run the fake upstream as a child process on a free port, once it is ready; another
    program may take the port first, so a failed start is retried on a new one."""
    for _ in range(attempts):
        port = free_port()
        process = ManagedProcess(
            name="fake_upstream",
            argv=[sys.executable, "-m", "bench.fake_upstream", "--port", str(port)],
            env={"PYTHONPATH": str(_ROOT)},
            cpus=cpus,
            log_path=log_path,
            cwd=_ROOT,
        )
        process.start()
        try:
            process.wait_ready("127.0.0.1", port, "/readyz", timeout_s=20)
        except StartError:
            process.stop()
            continue
        return process, port
    raise StartError("the fake upstream did not start")


def configure(port: int, chunks: int = 20, gap_ms: float = 0.0) -> None:
    """Set how the running fake upstream on `port` streams: events per stream, and the
    time between them (0: all at once)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("POST", "/_bench/config",
                     body=orjson.dumps({"chunks": chunks, "gap_ms": gap_ms}))
        conn.getresponse().read()
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cpu", type=str, default=None, help="CPU list to pin to, e.g. 0 or 0,1")
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--gap-ms", type=float, default=0.0)
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {int(c) for c in args.cpu.split(",")})
    raise_fd_limit()
    uvloop.run(serve(args.host, args.port, Settings(args.chunks, args.gap_ms)))


if __name__ == "__main__":
    main()
