"""Incremental Server-Sent Events decoding (the WHATWG event-stream format).

Fed raw body chunks as they arrive; yields complete events. Handles events split across
chunks, `\r\n`/`\r`/`\n` line endings, multi-line `data:`, and comment lines.
"""

from __future__ import annotations

from dataclasses import dataclass

# Membership of a single byte given as an int is a plain memchr; `b"\n" in data` goes
# through the substring search and costs ~4x more, on every event of every stream.
_LF = 0x0A
_CR = 0x0D
_BOM = b"\xef\xbb\xbf"

# No vendor's event comes near this (the largest seen are a few MB: a whole tool call's
# arguments, an inline image); past it the stream is broken or hostile, and holding more
# only takes memory that every other stream on the worker needs.
MAX_EVENT_BYTES = 16 * 1024 * 1024


class SSEEventTooLarge(ValueError):
    """An event grew past `MAX_EVENT_BYTES` without ending."""


@dataclass(slots=True)
class SSEEvent:
    event: str | None
    data: bytes


class SSEDecoder:
    __slots__ = ("_fed", "_max_event_bytes", "_pending_cr", "_tail", "_tail_bytes")

    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        # The pieces of an event still arriving, joined only once it ends: an event that
        # spans many reads would otherwise be copied whole on every one of them.
        self._tail: list[bytes] = []
        self._tail_bytes = 0
        self._pending_cr = False
        self._max_event_bytes = max_event_bytes
        self._fed = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if not self._fed and chunk:
            self._fed = True
            # The format allows one byte-order mark before the first event; left in, it
            # would make that event's first line a field of no known name.
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
        if self._pending_cr:
            chunk = b"\r" + chunk
            self._pending_cr = False
        if _CR in chunk:
            if chunk.endswith(b"\r"):
                # The `\n` of a `\r\n` may arrive in the next chunk.
                chunk = chunk[:-1]
                self._pending_cr = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        tail = self._tail
        if tail:
            if not chunk:
                return []
            if b"\n\n" not in chunk and not (chunk[0] == _LF and tail[-1][-1] == _LF):
                # Still the same event.
                self._hold(chunk)
                return []
            tail.append(chunk)
            buffer = b"".join(tail)
            tail.clear()
            self._tail_bytes = 0
        else:
            buffer = chunk
        blocks = buffer.split(b"\n\n")
        # The last piece is an event still arriving (empty when the chunk ended on one).
        rest = blocks.pop()
        if rest:
            self._hold(rest)
        events: list[SSEEvent] = []
        for block in blocks:
            # The overwhelmingly common event, one `data: ` line, without a call.
            if block[:6] == b"data: " and _LF not in block:
                events.append(SSEEvent(None, block[6:]))
                continue
            event = _parse_block(block)
            if event is not None:
                events.append(event)
        return events

    def _hold(self, piece: bytes) -> None:
        self._tail.append(piece)
        self._tail_bytes += len(piece)
        if self._tail_bytes > self._max_event_bytes:
            raise SSEEventTooLarge(
                f"an event grew past {self._max_event_bytes} bytes without ending"
            )

    def flush(self) -> list[SSEEvent]:
        """Whatever complete-looking event is left when the stream ends without a blank line."""
        rest = b"".join(self._tail)
        self._tail.clear()
        self._tail_bytes = 0
        if not rest.strip():
            return []
        event = _parse_block(rest.rstrip(b"\n"))
        return [event] if event is not None else []

    @property
    def pending_bytes(self) -> int:
        return self._tail_bytes


def _parse_block(block: bytes) -> SSEEvent | None:
    event_name: str | None = None
    data_lines: list[bytes] = []
    for line in block.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        name, sep, value = line.partition(b":")
        if sep and value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            data_lines.append(value)
        elif name == b"event":
            event_name = value.decode("utf-8", "replace")
    if not data_lines and event_name is None:
        return None
    return SSEEvent(event_name, b"\n".join(data_lines))
