"""The write time limit: a client whose socket takes none of its response for that long is
disconnected; one that reads slowly, however long it takes, is not."""

from __future__ import annotations

import asyncio

from switchpoint.server.protocol import HttpProtocol, ServerState, plain_error_renderer
from switchpoint.server.request import Request
from switchpoint.server.response import Response


class BufferingTransport(asyncio.Transport):
    """What the protocol sees of a socket: how much is still buffered for the client."""

    def __init__(self) -> None:
        super().__init__()
        self.buffered = 0
        self.aborted = False

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.aborted

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def answer(request: Request) -> Response:
    return Response(200, b"{}")


def paused(buffered: int) -> tuple[HttpProtocol, BufferingTransport, float]:
    """A connection (write limit 60 s) that has just paused writing with `buffered` bytes
    waiting for the client, and when it paused."""
    loop = asyncio.new_event_loop()
    state = ServerState(
        answer,
        plain_error_renderer,
        max_body_bytes=1024,
        keep_alive_s=75,
        read_timeout_s=60,
        write_timeout_s=60,
    )
    protocol = HttpProtocol(state, loop)
    transport = BufferingTransport()
    protocol.connection_made(transport)
    transport.buffered = buffered
    protocol.pause_writing()
    loop.close()
    return protocol, transport, protocol._write_stalled_at


def test_a_client_that_takes_nothing_is_cut_off_after_the_limit() -> None:
    protocol, transport, start = paused(8 << 20)
    protocol.check_timeouts(start + 30)
    assert not transport.aborted
    protocol.check_timeouts(start + 61)
    assert transport.aborted


def test_a_client_that_reads_slowly_is_never_cut_off() -> None:
    # A whole 8 MB answer, written at once, read at 64 KB a second: writing stays paused
    # for two minutes, and the client keeps taking bytes the whole time.
    protocol, transport, start = paused(8 << 20)
    for second in range(1, 125):
        transport.buffered -= 64 << 10
        protocol.check_timeouts(start + second)
    assert not transport.aborted
    # Then it stops reading altogether: cut off a minute later, not before.
    protocol.check_timeouts(start + 124 + 59)
    assert not transport.aborted
    protocol.check_timeouts(start + 124 + 61)
    assert transport.aborted


def test_a_resumed_and_paused_again_stream_counts_from_its_last_pause() -> None:
    protocol, transport, start = paused(1 << 20)
    protocol.resume_writing()
    protocol.check_timeouts(start + 120)
    assert not transport.aborted
