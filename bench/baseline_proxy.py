"""The reference "bare aiohttp pass-through proxy": what a few lines of a popular async
framework cost, with nothing a gateway adds (no parsing, routing, auth or logging).

aiohttp.web server + one pooled `aiohttp.ClientSession`; every request's method, path,
body and content headers go to the upstream as they are, and the response comes back
the same way, an SSE stream passed through piece by piece as it arrives. It runs on
uvloop (the strongest honest version of this baseline), access log off.

Run: python -m bench.baseline_proxy --port P --upstream http://127.0.0.1:U [--cpu 1]
     [--workers N]  (N processes on one port with SO_REUSEPORT)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket

import aiohttp
import uvloop
from aiohttp import web

# Headers that describe one hop's connection and framing, not the message.
_HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailers", "transfer-encoding", "upgrade", "content-length", "host",
        "content-encoding",
    }
)


def _forwardable(headers: object) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}  # type: ignore[attr-defined]


def make_app(upstream: str) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    base = upstream.rstrip("/")

    async def on_startup(app: web.Application) -> None:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=75, ttl_dns_cache=None)
        app["session"] = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=None),
            auto_decompress=False,
        )

    async def on_cleanup(app: web.Application) -> None:
        await app["session"].close()

    async def readyz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def proxy(request: web.Request) -> web.StreamResponse:
        session: aiohttp.ClientSession = request.app["session"]
        body = await request.read()
        async with session.request(
            request.method, base + request.path_qs, data=body,
            headers=_forwardable(request.headers),
        ) as upstream_response:
            headers = _forwardable(upstream_response.headers)
            content_type = upstream_response.headers.get("Content-Type", "")
            if content_type.startswith("text/event-stream"):
                response = web.StreamResponse(status=upstream_response.status, headers=headers)
                # A client that hangs up mid-stream (wrk does, at the end of a run) is normal.
                with contextlib.suppress(ConnectionResetError):
                    await response.prepare(request)
                    async for piece in upstream_response.content.iter_any():
                        await response.write(piece)
                    await response.write_eof()
                return response
            payload = await upstream_response.read()
            return web.Response(status=upstream_response.status, body=payload, headers=headers)

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    app.router.add_get("/readyz", readyz)
    app.router.add_route("*", "/{tail:.*}", proxy)
    return app


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(4096)
    return sock


def _serve(host: str, port: int, upstream: str) -> None:
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(
        make_app(upstream), sock=_listen(host, port), access_log=None, print=None,
        handle_signals=True, backlog=4096,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="bare aiohttp pass-through proxy")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:9000")
    parser.add_argument("--cpu", default=None, help="CPU list to pin to, e.g. 1 or 0,1")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {int(c) for c in args.cpu.split(",")})
    children: list[int] = []
    for _ in range(args.workers - 1):
        pid = os.fork()
        if pid == 0:
            _serve(args.host, args.port, args.upstream)
            os._exit(0)
        children.append(pid)
    try:
        _serve(args.host, args.port, args.upstream)
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


if __name__ == "__main__":
    main()
