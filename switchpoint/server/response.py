"""Responses a handler returns: a whole body, or a stream of chunks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from http import HTTPStatus

_REASONS = {status.value: status.phrase for status in HTTPStatus}
_REASONS[529] = "Overloaded"

JSON = "application/json"


def status_line(status: int) -> bytes:
    return f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n".encode("latin-1")


class Response:
    """A whole response. `after_sent` runs once its bytes are handed to the socket, in
    the same turn of the loop (nothing else runs in between): bookkeeping placed there
    is off the client's latency but done before the connection's next request."""

    __slots__ = ("after_sent", "body", "content_type", "headers", "status")

    def __init__(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str = JSON,
        headers: list[tuple[str, str]] | None = None,
        after_sent: Callable[[], None] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or []
        self.after_sent = after_sent


class FinalPiece(bytes):
    """The last piece of a streamed body. The server holds it until the body ends (its
    owner's bookkeeping, in the same turn of the loop) and sends it with the end of the
    response: one write instead of two, on every stream."""

    __slots__ = ()


class StreamingResponse:
    """`body` yields the chunks; each is written (and flushed) as soon as it is yielded,
    except a `FinalPiece`, which leaves with the end of the response.

    `on_close` is called once the response is over, however it ended: after the last
    chunk, after a failure, or when the client left before the body was even started
    (an async generator that never started does not run its `finally` on close).
    """

    __slots__ = ("body", "content_type", "headers", "on_close", "status")

    def __init__(
        self,
        status: int,
        body: AsyncIterator[bytes],
        *,
        content_type: str = "text/event-stream",
        headers: list[tuple[str, str]] | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        # Emptied once the head is rendered (`sent_head`).
        self.headers: Sequence[tuple[str, str]] = headers or ()
        self.on_close = on_close

    def sent_head(self) -> None:
        """The head is rendered: its headers are not needed for the rest of the stream (which
        may last minutes; with thousands in flight, each header pair is one more object
        for every garbage collection to walk)."""
        self.headers = ()


def encode_headers(headers: Sequence[tuple[str, str]]) -> bytes:
    return "".join(f"{name}: {value}\r\n" for name, value in headers).encode("latin-1")
