"""A gateway served from a background thread: for tests, demos and embedding."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from types import TracebackType

import uvloop

from switchpoint.config.schema import Config
from switchpoint.gateway import Gateway
from switchpoint.server.runner import listening_socket, serve


class BackgroundServer:
    """Starts a gateway on its own event loop thread; `base_url` is where it listens."""

    def __init__(
        self,
        config: Config,
        *,
        environ: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.config = config
        self._environ = environ
        self._sock = listening_socket(host, port, reuse_port=False)
        self.host, self.port = self._sock.getsockname()[:2]
        self.loop = uvloop.new_event_loop()
        self.gateway: Gateway | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="switchpoint-server", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
        finally:
            self.loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self.gateway = Gateway(self.config, environ=self._environ)

        def ready() -> None:
            self._ready.set()

        await serve(self.gateway, self._sock, self._stop, on_ready=ready)

    def start(self) -> BackgroundServer:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise RuntimeError("the gateway failed to start") from self._error
        return self

    def stop(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    def call(self, fn: object) -> None:
        """Run a plain callable on the server's loop thread (e.g. to flip a fault)."""
        self.loop.call_soon_threadsafe(fn)  # type: ignore[arg-type]

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
