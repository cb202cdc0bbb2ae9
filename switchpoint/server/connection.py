"""The state of one client connection, which every part of the protocol reads and writes.

`HttpProtocol` is assembled from one class per concern, each built on the one before:
`Connection` (this state) → `FlowControl` (flow.py) → `ResponseWriter` (writing.py) →
`Pipeline` (pipeline.py) → `Timeouts` (timeouts.py) → `Upgrades` (upgrade.py) →
`HttpProtocol` (protocol.py: parsing and dispatch). A chain rather than separate
objects: every method still runs on the one connection object, so splitting the code
added no call, attribute hop or allocation to a request's path (a method found further
up the class chain costs the same, once CPython's type cache has it).
"""

from __future__ import annotations

import asyncio
from collections import deque

import httptools

from switchpoint.server.request import Request
from switchpoint.server.response import Response
from switchpoint.server.state import ServerState


class Connection(asyncio.Protocol):
    """One client connection's state: the parser, the requests read and not yet
    answered, the message being read, and what is paused or pending."""

    def __init__(self, state: ServerState, loop: asyncio.AbstractEventLoop) -> None:
        self._state = state
        self._loop = loop
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._client = ""
        # Requests read and not yet answered, each with its keep-alive value (see
        # writing.py's `ANNOUNCE_KEEP_ALIVE`).
        self._queue: deque[tuple[Request, int]] = deque()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._write_paused = False
        self._read_paused = False
        # No further request is taken from this connection: one was refused, or the last
        # one read said it was the last (what follows it is ignored).
        self._done_reading = False
        self._upgrading = False  # see `Upgrades._hold_upgrade`
        # A refusal that waits for the requests read before it to be answered.
        self._error: Response | None = None
        # `Expect: 100-continue` on a request read while earlier ones are answered.
        self._continue_pending = False
        # Something waits for the queue to empty (`_error`, `_continue_pending`):
        # one test where a response ends.
        self._when_idle = False
        # Since when the client has taken none of what is buffered for it, and how much
        # that was: a slow client that keeps reading is never cut off.
        self._write_stalled_at = 0.0
        self._write_stalled_bytes = 0
        self._drain: asyncio.Future[None] | None = None
        # When the connection last became idle. Not refreshed by incoming bytes: CRLFs
        # between requests (which start no message) must not keep it open for ever.
        self._last_activity = loop.time()
        self._version = "1.1"
        self._reset_message()

    def _reset_message(self) -> None:
        self._url = b""
        self._headers: dict[bytes, bytes] = {}
        self._head_bytes = 0
        self._body: list[bytes] = []
        self._body_bytes = 0
        self._message_started_at: float | None = None
        self._continue_pending = False

    @property
    def busy(self) -> bool:
        """A request is being answered, or waits its turn on this connection."""
        return self._task is not None or bool(self._queue)

    def _close(self) -> None:
        self._closing = True
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()
