"""Time limits, checked by the server's periodic sweep (`ServerState.sweep`) rather than
a timer per connection: a client that takes none of its answer, a request not received in
time (408), and an idle keep-alive connection."""

from __future__ import annotations

import asyncio
import logging

from switchpoint.server.pipeline import Pipeline

log = logging.getLogger("switchpoint.server")


class Timeouts(Pipeline):
    """The connection's part of the periodic sweep."""

    def check_timeouts(self, now: float) -> None:
        transport = self._transport
        if transport is None:
            return
        if self._write_paused and self._write_stalled(transport, now):
            # Also when already closing: a close waits for the buffer to be sent, which a
            # client that does not read never lets happen.
            log.info(
                "client %s took none of its response for %gs: disconnected",
                self._client,
                self._state.write_timeout_s,
            )
            self._closing = True
            transport.abort()
            return
        # While busy, a request being read waits its turn: its read time starts when the
        # connection is free (`_respond`), so it can never cut an earlier request.
        if self._closing or self.busy:
            return
        reading = self._message_started_at
        if reading is not None:
            if now - reading > self._state.read_timeout_s:
                self._fail(408, "invalid_request", "the request was not received in time")
        elif now - self._last_activity > self._state.keep_alive_s:
            self._close()

    def _write_stalled(self, transport: asyncio.Transport, now: float) -> bool:
        """Whether the client has taken none of its buffered response for longer than
        the write time limit (a whole answer is buffered at once: a client reading it
        slowly keeps writing paused for as long as it takes, without stalling)."""
        buffered = transport.get_write_buffer_size()
        if buffered < self._write_stalled_bytes:
            self._write_stalled_bytes = buffered
            self._write_stalled_at = now
            return False
        return now - self._write_stalled_at > self._state.write_timeout_s
