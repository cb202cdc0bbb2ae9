"""The SSE decoder's one-line fast path must agree with the full parser on every shape
of `data:` line it takes."""

from __future__ import annotations

import pytest

from switchpoint.transport.sse import SSEDecoder, SSEEvent, SSEEventTooLarge


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        (b'data: {"a":1}\n\n', [(None, b'{"a":1}')]),
        (b'data:{"a":1}\n\n', [(None, b'{"a":1}')]),
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


def test_an_event_spanning_many_reads_is_joined_once_it_ends() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: ") == []
    for _ in range(100):
        assert decoder.feed(b"x" * 1000) == []
    assert decoder.pending_bytes == 6 + 100_000
    # The blank line that ends it, split across two reads, and the next event whole.
    assert decoder.feed(b"\n") == []
    events = decoder.feed(b"\ndata: next\n\n")
    assert [(e.event, e.data) for e in events] == [(None, b"x" * 100_000), (None, b"next")]
    assert decoder.pending_bytes == 0


def test_an_event_that_never_ends_is_refused_past_the_limit() -> None:
    decoder = SSEDecoder(max_event_bytes=10_000)
    assert decoder.feed(b"data: ok\n\ndata: ") == [SSEEvent(None, b"ok")]
    for _ in range(9):
        decoder.feed(b"x" * 1000)
    with pytest.raises(SSEEventTooLarge, match="grew past 10000 bytes"):
        decoder.feed(b"x" * 1000)


def test_a_single_read_holding_an_oversized_unfinished_event_is_refused() -> None:
    with pytest.raises(SSEEventTooLarge):
        SSEDecoder(max_event_bytes=100).feed(b"data: " + b"y" * 200)
    # Finished within the same read, it is not held, so not refused.
    events = SSEDecoder(max_event_bytes=100).feed(b"data: " + b"y" * 200 + b"\n\n")
    assert events == [SSEEvent(None, b"y" * 200)]


def test_a_byte_order_mark_before_the_first_event_is_not_part_of_it() -> None:
    # The format allows one; left in, the first event was dropped (a Gemini answer's
    # first text with it). Found by a fault probe.
    decoder = SSEDecoder()
    events = decoder.feed(b'\xef\xbb\xbfdata: {"a": 1}\n\n')
    assert [(e.event, e.data) for e in events] == [(None, b'{"a": 1}')]
    # Only the stream's first bytes: later the same bytes are data.
    assert decoder.feed(b"data: \xef\xbb\xbfx\n\n")[0].data == b"\xef\xbb\xbfx"
