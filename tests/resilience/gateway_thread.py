"""A real switchpoint server on 127.0.0.1:0, on its own event loop in a thread.

Synchronous SDK clients (and the fakes, which run on their own threads) drive it exactly
as an application would. The `Gateway` object is reachable for assertions on breaker
state; a `Recorder` listener keeps every finished call record and resilience counter.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

from switchpoint.config.loader import parse_config
from switchpoint.events import Listener
from switchpoint.execution.records import AttemptRecord, CallRecord
from switchpoint.gateway import Gateway
from switchpoint.server.background import BackgroundServer


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
    """`BackgroundServer` with a `Recorder` subscribed, configured from a document."""

    def __init__(self, document: dict[str, Any], environ: Mapping[str, str]) -> None:
        self.config = parse_config(document)
        self.recorder = Recorder()
        self.server = BackgroundServer(self.config, environ=dict(environ))
        self.gateway: Gateway | None = None

    def start(self) -> Self:
        self.server.start()
        self.gateway = self.server.gateway
        assert self.gateway is not None
        self.gateway.bus.subscribe(self.recorder)
        return self

    def stop(self) -> None:
        self.server.stop()

    def call_soon(self, fn: Any, *args: Any) -> None:
        """Run `fn(*args)` on the gateway's loop (e.g. flip a simulated provider)."""
        self.server.loop.call_soon_threadsafe(fn, *args)

    @property
    def base_url(self) -> str:
        return f"{self.server.base_url}/v1"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
