"""Writes of one loop turn leave in one send; a flush sends at once."""

from __future__ import annotations

import asyncio

from switchpoint.server.write_coalescer import WriteCoalescer


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing


async def test_pieces_of_one_turn_go_out_in_one_write() -> None:
    transport = RecordingTransport()
    out = WriteCoalescer(transport, asyncio.get_running_loop())
    for piece in (b"a", b"b", b"c"):
        out.add(piece)
    assert transport.writes == []
    await asyncio.sleep(0)
    assert transport.writes == [b"abc"]
    out.add(b"d")
    await asyncio.sleep(0)
    assert transport.writes == [b"abc", b"d"]


async def test_flush_writes_now_and_nothing_twice() -> None:
    transport = RecordingTransport()
    out = WriteCoalescer(transport, asyncio.get_running_loop())
    out.add(b"head")
    out.add(b"tail")
    out.flush()
    assert transport.writes == [b"headtail"]
    await asyncio.sleep(0)
    assert transport.writes == [b"headtail"]


async def test_nothing_is_written_to_a_closing_transport() -> None:
    transport = RecordingTransport()
    out = WriteCoalescer(transport, asyncio.get_running_loop())
    out.add(b"late")
    transport.closing = True
    await asyncio.sleep(0)
    assert transport.writes == []
