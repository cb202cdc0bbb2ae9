"""Writing responses: a whole response in a single write, a stream in chunked transfer
encoding (or delimited by the close, for HTTP/1.0) piece by piece as it comes, and the
head alone for HEAD, respecting the transport's flow control."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence

from switchpoint.server.flow import FlowControl
from switchpoint.server.response import (
    FinalPiece,
    Response,
    StreamingResponse,
    encode_headers,
    status_line,
)

log = logging.getLogger("switchpoint.server")

# A request's keep-alive value is False (its connection closes after the answer), True
# (kept alive: HTTP/1.1's default, nothing to say) or ANNOUNCE_KEEP_ALIVE (an HTTP/1.0
# request that asked for keep-alive: its answer must say it is granted, as an HTTP/1.0
# client otherwise takes the connection to close). It indexes the head's last line.
ANNOUNCE_KEEP_ALIVE = 2
_CONNECTION_LINE = (b"connection: close\r\n", b"", b"connection: keep-alive\r\n")


class ResponseWriter(FlowControl):
    """Heads, whole bodies and streams, written to the connection's transport."""

    def _head(
        self, status: int, content_type: str, headers: Sequence[tuple[str, str]], keep_alive: int
    ) -> bytes:
        # One join: each `+` would copy the head so far.
        return b"".join(
            (
                status_line(status),
                b"server: switchpoint\r\n",
                self._state.date_header,
                b"content-type: ",
                content_type.encode("latin-1"),
                b"\r\n",
                encode_headers(headers),
                _CONNECTION_LINE[keep_alive],
            )
        )

    def _write_whole(self, response: Response, keep_alive: int) -> None:
        if self._transport is None or self._closing:
            return
        head = self._head(response.status, response.content_type, response.headers, keep_alive)
        body = response.body
        self._transport.write(b"".join((head, b"content-length: %d\r\n\r\n" % len(body), body)))

    async def _write_head_only(
        self, response: Response | StreamingResponse, keep_alive: int, http_version: str
    ) -> None:
        """HEAD: the head a GET gets, with its length, and no body (RFC 9110 §9.3.2)."""
        if isinstance(response, StreamingResponse):
            try:
                if self._transport is not None and not self._closing:
                    self._transport.write(self._stream_head(response, keep_alive, http_version))
            finally:
                await close_stream(response)
            if http_version == "1.0":
                self._close()  # its head said so: a 1.0 stream is delimited by the close
            return
        if self._transport is not None and not self._closing:
            head = self._head(response.status, response.content_type, response.headers, keep_alive)
            self._transport.write(head + b"content-length: %d\r\n\r\n" % len(response.body))
        if response.after_sent is not None:
            run_after_sent(response.after_sent)

    def _stream_head(
        self, response: StreamingResponse, keep_alive: int, http_version: str
    ) -> bytes:
        chunked = http_version != "1.0"
        # A stream to HTTP/1.0 ends with the connection: the head says `close`.
        head = self._head(
            response.status, response.content_type, response.headers, keep_alive and chunked
        )
        response.sent_head()
        extra = b"cache-control: no-cache\r\nx-accel-buffering: no\r\n"
        if chunked:
            extra += b"transfer-encoding: chunked\r\n"
        return head + extra + b"\r\n"

    async def _write_stream(
        self, response: StreamingResponse, keep_alive: int, http_version: str
    ) -> None:
        try:
            await self._relay(response.body, response, keep_alive, http_version)
        finally:
            await close_stream(response)

    async def _relay(
        self,
        body: AsyncIterator[bytes],
        response: StreamingResponse,
        keep_alive: int,
        http_version: str,
    ) -> None:
        transport = self._transport
        if transport is None or self._closing:
            return
        chunked = http_version != "1.0"
        # The head leaves with the first piece, and the last piece with the end of the
        # response. Every other piece is written as it comes: the relay yields one piece
        # per upstream read (events are batched per read upstream of here).
        pending: bytes | None = self._stream_head(response, keep_alive, http_version)
        try:
            async for piece in body:
                if not piece:
                    continue
                if self._closing:
                    return
                data = b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece
                if pending is not None:
                    data, pending = pending + data, None
                if type(piece) is FinalPiece:
                    pending = data
                    continue
                transport.write(data)
                if self._write_paused:
                    await self._wait_drain()
        except (ConnectionError, asyncio.CancelledError):
            self._write_pending(pending)
            self._close()
            raise
        except Exception:
            # The headers may be out: the only honest signal left is to end the connection
            # without the final chunk, so the client cannot take the answer as complete.
            log.exception("stream failed after its headers were sent")
            self._write_pending(pending)
            self._close()
            return
        if chunked:
            self._write_pending((pending or b"") + b"0\r\n\r\n")
        else:
            self._write_pending(pending)
            self._close()

    def _write_pending(self, data: bytes | None) -> None:
        transport = self._transport
        if data and transport is not None and not self._closing:
            transport.write(data)


async def close_stream(response: StreamingResponse) -> None:
    # Whatever happened (even a client gone before the first byte), the body is closed
    # and its owner told, so no upstream stream or accounting is left open.
    aclose = getattr(response.body, "aclose", None)
    if aclose is not None:
        await aclose()
    if response.on_close is not None:
        await response.on_close()


def run_after_sent(after_sent: Callable[[], None]) -> None:
    # The answer is already on its way: a failure here must not become a second response.
    try:
        after_sent()
    except Exception:
        log.exception("bookkeeping after a response failed")
