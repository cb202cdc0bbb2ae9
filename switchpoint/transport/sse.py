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


@dataclass(slots=True)
class SSEEvent:
    event: str | None
    data: bytes


class SSEDecoder:
    __slots__ = ("_buffer", "_pending_cr")

    def __init__(self) -> None:
        self._buffer = b""
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._pending_cr:
            chunk = b"\r" + chunk
            self._pending_cr = False
        if _CR in chunk:
            if chunk.endswith(b"\r"):
                # The `\n` of a `\r\n` may arrive in the next chunk.
                chunk = chunk[:-1]
                self._pending_cr = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buffer = self._buffer + chunk if self._buffer else chunk
        blocks = buffer.split(b"\n\n")
        # The last piece is an event still arriving (empty when the chunk ended on one).
        self._buffer = blocks.pop()
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

    def flush(self) -> list[SSEEvent]:
        """Whatever complete-looking event is left when the stream ends without a blank line."""
        rest = self._buffer
        self._buffer = b""
        if not rest.strip():
            return []
        event = _parse_block(rest.rstrip(b"\n"))
        return [event] if event is not None else []

    @property
    def pending_bytes(self) -> int:
        return len(self._buffer)


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
