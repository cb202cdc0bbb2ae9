"""A streamed answer's reads decoded in the upstream connection's callback.

Relayed the usual way, every upstream read resolves a future, wakes the task that relays
the stream, and climbs the generators of the adapter, the stream's execution and the
client's endpoint before it is written: the asyncio machinery of that, per chunk, costs
about as much as splitting, decoding and re-encoding the chunk. `DirectRead` does the
adapter's part of a read (SSE, the vendor's events, timing) where the read arrives and,
when the stream's `StreamLane` takes the events, that is the whole of it: the relaying
task sleeps on. Anything else (the end of the answer, an error, an in-stream failure, a
client that is not taking its bytes) is handed back to the task, in order, which carries
on exactly as if it had read the data itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from switchpoint.chat.stream import StreamEvent
from switchpoint.providers.errors import ProviderError
from switchpoint.providers.limits import AttemptStats, StreamLane
from switchpoint.transport.http_client import UpstreamResponse
from switchpoint.transport.sse import SSEDecoder, SSEEvent

if TYPE_CHECKING:
    from switchpoint.providers.http_adapter import SSEStreamDecoder, StreamTiming

# What `HttpProviderAdapter._decode_batch` makes of one read's SSE events: the internal
# events, whether they held content, whether usage, and the in-stream error that ends it.
DecodedRead = tuple[list[StreamEvent], bool, bool, ProviderError | None]


class DirectRead:
    """Called with each upstream read while the stream's relay waits for the next one.

    After a read it cannot finish here, it stops taking reads (`read_directly(None)`), so
    that later reads wait in the connection's buffer behind it, keeps what it made of the
    read (`handed_back`) or the exception it met (`failed`), and interrupts the relay's
    wait; the relay takes them with `take()`.
    """

    __slots__ = (
        "_decode",
        "_lane",
        "_response",
        "_sse",
        "_stats",
        "_stream",
        "_timing",
        "failed",
        "handed_back",
    )

    def __init__(
        self,
        response: UpstreamResponse,
        sse: SSEDecoder,
        stream: SSEStreamDecoder,
        decode: Callable[[list[SSEEvent]], DecodedRead],
        timing: StreamTiming,
        stats: AttemptStats,
        lane: StreamLane,
    ) -> None:
        self._response = response
        self._sse = sse
        self._stream = stream
        self._decode = decode
        self._timing = timing
        self._stats = stats
        self._lane = lane
        self.handed_back: DecodedRead | None = None
        self.failed: Exception | None = None

    def __call__(self, data: bytes) -> None:
        stream = self._stream
        try:
            events = self._sse.feed(data)
            if not events:
                return  # an event still arriving: nothing to do until its end
            decoded = self._decode(events)
            del events
            deliver = self._lane.deliver
            if (
                decoded[3] is None
                and deliver is not None
                and not stream.finished
                and not stream.saw_finish_reason
                and deliver(decoded[0])
            ):
                invalid = stream.invalid_events
                if invalid:
                    self._stats.malformed_events = invalid
                if decoded[1]:
                    timing = self._timing
                    timing.content()
                    self._response.extend_wait(timing.wait_until() - time.perf_counter())
                return
            self.handed_back = decoded
        except Exception as exc:
            # Raised again in the relay's task, as if met there.
            self.failed = exc
        self._response.read_directly(None)
        self._response.interrupt()

    def take(self) -> DecodedRead:
        """What the last read handed back became; raises what it failed with."""
        failed = self.failed
        if failed is not None:
            self.failed = None
            raise failed
        decoded = self.handed_back
        assert decoded is not None
        self.handed_back = None
        return decoded
