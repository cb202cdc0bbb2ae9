"""A real switchpoint server on 127.0.0.1:0, on its own event loop in a thread.

Synchronous SDK clients (and the fakes, which run on their own threads) can then drive
it exactly as an application would. The `Gateway` object is reachable for assertions
on breaker state; a `Recorder` listener keeps every finished call record.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

from switchpoint.config.loader import parse_config
from switchpoint.events import Listener
from switchpoint.execution.records import AttemptRecord, CallRecord
from switchpoint.gateway import Gateway
from switchpoint.server.runner import listening_socket, serve

_START_TIMEOUT = 10.0


class Recorder(Listener):
    """Keeps call records and resilience counters (appends only: cheap, thread-safe)."""

    def __init__(self) -> None:
        self.calls: list[CallRecord] = []
        self.attempts: list[AttemptRecord] = []
        self.breaker_moves: list[tuple[str, str, str, str, str]] = []
        self.counters: list[tuple[str, str, str, str, int]] = []

    def on_attempt(self, call: CallRecord, attempt: AttemptRecord) -> None:
        self.attempts.append(attempt)

    def on_call(self, call: CallRecord) -> None:
        self.calls.append(call)

    def on_breaker(self, provider: str, model: str, old: str, new: str, reason: str) -> None:
        self.breaker_moves.append((provider, model, old, new, reason))

    def on_resilience(self, name: str, provider: str, model: str, reason: str, count: int) -> None:
        self.counters.append((name, provider, model, reason, count))

    def count(self, name: str, reason: str | None = None) -> int:
        return sum(
            c[4] for c in self.counters if c[0] == name and (reason is None or c[3] == reason)
        )


class GatewayThread:
    def __init__(self, document: dict[str, Any], environ: Mapping[str, str]) -> None:
        self.config = parse_config(document)
        self.environ = dict(environ)
        self.recorder = Recorder()
        self.gateway: Gateway | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.port = 0

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._main, name="gateway", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError("gateway did not start")
        if self._error is not None:
            raise self._error
        return self

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # surfaced to start()
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        gateway = Gateway(self.config, environ=self.environ)
        gateway.bus.subscribe(self.recorder)
        self.gateway = gateway
        sock = listening_socket("127.0.0.1", 0, reuse_port=False)
        self.port = sock.getsockname()[1]

        def ready() -> None:
            self._ready.set()

        await serve(gateway, sock, self._stop, on_ready=ready)

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(_START_TIMEOUT + 30)

    def call_soon(self, fn: Any, *args: Any) -> None:
        """Run `fn(*args)` on the gateway's loop (e.g. flip a simulated provider)."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(fn, *args)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
