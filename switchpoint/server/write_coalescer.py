"""Joining a stream's small writes into one send per turn of the event loop.

A relayed stream produces one piece per event, and one upstream read usually holds many
events; a `send` per piece would cost more than everything else the relay does. Pieces
added in one loop turn go out in one write at the end of that turn, which delays none of
them by more than microseconds (nothing is held back waiting for more data).
"""

from __future__ import annotations

import asyncio


class WriteCoalescer:
    """Joins the writes of one loop turn into one `transport.write`."""

    __slots__ = ("_handle", "_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._handle: asyncio.Handle | None = None

    def add(self, data: bytes) -> None:
        self._pending.append(data)
        if self._handle is None:
            self._handle = self._loop.call_soon(self._write)

    def _write(self) -> None:
        self._handle = None
        pending = self._pending
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))
        pending.clear()

    def flush(self) -> None:
        """Write what is pending now (before the connection is closed or paused)."""
        if self._handle is not None:
            self._handle.cancel()
        self._write()
