"""The SSE decoder's one-line fast path must agree with the full parser on every shape
of `data:` line it takes."""

from __future__ import annotations

import pytest

from switchpoint.transport.sse import SSEDecoder


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        (b"data: {\"a\":1}\n\n", [(None, b'{"a":1}')]),
        (b"data:{\"a\":1}\n\n", [(None, b'{"a":1}')]),
        # Only the one optional space after the colon belongs to the syntax.
        (b"data:  two\n\n", [(None, b" two")]),
        (b"data: \n\n", [(None, b"")]),
        # Two lines in one block: the full parser, not the fast path.
        (b"data: x\nevent: ping\n\n", [("ping", b"x")]),
        (b"data: a\ndata: b\n\n", [(None, b"a\nb")]),
        (b"event: done\ndata: [DONE]\n\n", [("done", b"[DONE]")]),
        # A field that merely starts like `data` is not data.
        (b"database: x\n\n", []),
        (b": keep-alive\n\ndata: y\r\n\r\n", [(None, b"y")]),
    ],
)
def test_blocks(stream: bytes, expected: list[tuple[str | None, bytes]]) -> None:
    whole = [(e.event, e.data) for e in SSEDecoder().feed(stream)]
    assert whole == expected
    # Byte by byte, the same events.
    decoder = SSEDecoder()
    pieces = [e for i in range(len(stream)) for e in decoder.feed(stream[i : i + 1])]
    assert [(e.event, e.data) for e in pieces] == expected
