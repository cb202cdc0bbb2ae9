"""Running the server: listening, periodic housekeeping, graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable

from switchpoint.gateway import Gateway
from switchpoint.observability.gc_pauses import GcPauses
from switchpoint.server.app import build_router, protocol_refusals
from switchpoint.server.heap import settle_heap
from switchpoint.server.loop_lag import LoopLag
from switchpoint.server.protocol import HttpProtocol, ServerState

log = logging.getLogger("switchpoint.server")


def listening_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


async def serve(
    gateway: Gateway,
    sock: socket.socket,
    stop: asyncio.Event,
    *,
    on_ready: Callable[[], Awaitable[None] | None] | None = None,
    own_process: bool = False,
) -> None:
    """Serve on `sock` until `stop` is set, then drain in-flight requests and return.

    `own_process`: the process exists to serve (the CLI), so its garbage collector is
    tuned for it (`heap.settle_heap`); an embedding program keeps its own settings."""
    loop = asyncio.get_running_loop()
    # Opening the ledger may read the database (keys, spend): off the event loop.
    await asyncio.to_thread(gateway.start)
    config = gateway.config.server
    state = ServerState(
        build_router(gateway),
        protocol_refusals(gateway),
        max_body_bytes=config.max_body_bytes,
        keep_alive_s=config.keep_alive_s,
        read_timeout_s=config.request_read_timeout_s,
        write_timeout_s=config.client_write_timeout_s,
    )
    server = await loop.create_server(lambda: HttpProtocol(state, loop), sock=sock, backlog=4096)
    housekeeping = loop.create_task(_housekeeping(state))
    preload: asyncio.Task[None] | None = None
    gc_pauses = GcPauses(gateway.metrics.gc_pauses) if gateway.metrics is not None else None
    if gc_pauses is not None:
        gc_pauses.install()
    loop_lag = LoopLag(gateway.metrics.loop_lag.observe if gateway.metrics is not None else None)
    loop_lag.start(loop)
    gateway.shedder.loop_lag = loop_lag
    try:
        if own_process:
            settle_heap()
        if on_ready is not None:
            result = on_ready()
            if result is not None:
                await result
        # After readiness, so that start-up does not wait for the BPE files (~0.7 s).
        preload = loop.create_task(_preload(gateway, own_process))
        await stop.wait()
    finally:
        server.close()
        housekeeping.cancel()
        if preload is not None:
            preload.cancel()
        await _drain(state, config.shutdown_grace_s)
        with contextlib.suppress(Exception):
            await server.wait_closed()
        await gateway.aclose()
        if gc_pauses is not None:
            gc_pauses.uninstall()
        loop_lag.stop()
        gateway.shedder.loop_lag = None


async def _preload(gateway: Gateway, own_process: bool) -> None:
    try:
        await gateway.preload_tokenizer()
    except Exception:
        # Exact counts then load it on first use.
        log.exception("loading the BPE tokenizer ahead of need failed")
    else:
        if own_process:
            settle_heap()


async def _housekeeping(state: ServerState) -> None:
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(1.0)
        state.refresh_date()
        state.sweep(loop.time())


# How long handlers cut at shutdown get to run their cancellation.
_CUT_WAIT_S = 5.0


async def _drain(state: ServerState, grace_s: float) -> None:
    """Close idle connections at once and busy ones as their calls end, for up to
    `grace_s`; then close whatever is left (a stream cut there ends without its last
    chunk, so its client sees it incomplete)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace_s
    state.draining = True
    while loop.time() < deadline:
        busy = [c for c in state.connections if c.busy]
        for connection in state.connections - set(busy):
            connection.shutdown()
        if not busy:
            return
        await asyncio.sleep(0.05)
    in_flight = sum(1 for c in state.connections if c.busy)
    if in_flight:
        log.warning("shutting down with %d request(s) still in flight: cut", in_flight)
    handlers = [task for c in list(state.connections) if (task := c.cut()) is not None]
    if handlers:
        # Their cancellation closes their upstream calls and records them (outcome
        # `cancelled`); it must run before the gateway closes the ledger, not after.
        await asyncio.wait(handlers, timeout=_CUT_WAIT_S)
