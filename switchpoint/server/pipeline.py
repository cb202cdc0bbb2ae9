"""What waits for the requests read before it: a protocol-level refusal (bad HTTP, a body
too large, …) and a `100 Continue` are written only once every earlier pipelined request
is answered, never into the middle of an answer."""

from __future__ import annotations

import httptools

from switchpoint.server.writing import ResponseWriter

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class Pipeline(ResponseWriter):
    """Refusals and interim answers, kept in order with the answers before them."""

    def _fail(self, status: int, kind: str, message: str) -> None:
        """Refuse a request we cannot parse or accept: the requests read before it are
        answered first, in order, then this, then the connection is closed."""
        if self._done_reading:
            return
        self._done_reading = True
        if self._transport is None or self._closing:
            return
        error = self._state.render_error(status, kind, message, self._path_so_far())
        if self.busy:
            self._error = error
            self._when_idle = True
            return
        self._write_whole(error, False)
        self._close()

    def _path_so_far(self) -> str:
        """The path of the request being read, if its URL has arrived (for the error's
        protocol: a 413 under /v1/messages is answered in Anthropic's shape)."""
        try:
            parsed = httptools.parse_url(self._url) if self._url else None
        except httptools.HttpParserInvalidURLError:
            return ""
        return parsed.path.decode("latin-1") if parsed is not None and parsed.path else ""

    def _expect(self, expect: bytes) -> None:
        if self._version != "1.1" or self._done_reading:
            return  # an HTTP/1.0 client cannot take an interim answer (RFC 9110 §10.1.1)
        if expect.lower() != b"100-continue":
            self._fail(417, "invalid_request", "only `Expect: 100-continue` is supported")
        elif self.busy:
            # Written once the answers before it are out, not into the middle of one.
            self._continue_pending = True
            self._when_idle = True
        elif self._transport is not None and not self._closing:
            self._transport.write(_CONTINUE)

    def _idle(self) -> None:
        """Every request read is answered: now what waited for that."""
        self._when_idle = False
        if self._closing or self._transport is None:
            return
        if self._error is not None:
            self._write_whole(self._error, False)
            self._error = None
            self._close()
        elif self._continue_pending and self._message_started_at is not None:
            self._continue_pending = False
            self._transport.write(_CONTINUE)
