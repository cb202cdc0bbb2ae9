"""Flow control: reading pauses while the client takes none of its answers (or too many
pipelined requests wait), and an answer waits for the transport to drain."""

from __future__ import annotations

from switchpoint.server.connection import Connection

# Requests read ahead of the one being answered before reading pauses.
MAX_PIPELINE = 16


class FlowControl(Connection):
    """The transport's pause/resume callbacks, and reading paused to match."""

    def pause_writing(self) -> None:
        self._write_paused = True
        self._write_stalled_at = self._loop.time()
        transport = self._transport
        self._write_stalled_bytes = transport.get_write_buffer_size() if transport else 0
        # A client that does not take its answers gets no more requests read (a pipelining
        # client that never reads would otherwise have every answer buffered here).
        self._pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        self._maybe_resume_reading()

    def _pause_reading(self) -> None:
        if not self._read_paused and self._transport is not None:
            self._read_paused = True
            self._transport.pause_reading()

    def _maybe_resume_reading(self) -> None:
        if (
            self._read_paused
            and not (self._write_paused or self._done_reading or self._closing)
            and len(self._queue) <= MAX_PIPELINE
            and self._transport is not None
        ):
            self._read_paused = False
            self._transport.resume_reading()

    async def _wait_drain(self) -> None:
        self._drain = self._loop.create_future()
        try:
            await self._drain
        finally:
            self._drain = None
