"""Responses a handler returns: a whole body, or a stream of chunks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from http import HTTPStatus

_REASONS = {status.value: status.phrase for status in HTTPStatus}
_REASONS[529] = "Overloaded"

JSON = "application/json"


def status_line(status: int) -> bytes:
    return f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n".encode("latin-1")


class Response:
    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str = JSON,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or []


class StreamingResponse:
    """`body` yields the chunks; each is written (and flushed) as soon as it is yielded."""

    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        status: int,
        body: AsyncIterator[bytes],
        *,
        content_type: str = "text/event-stream",
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or []


def encode_headers(headers: list[tuple[str, str]]) -> bytes:
    return "".join(f"{name}: {value}\r\n" for name, value in headers).encode("latin-1")
