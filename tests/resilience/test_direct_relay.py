"""Streams relayed from the upstream connection's callback (`DirectRead`, `StreamLane`):
chunks that arrive one read at a time, as a real model's do, reach the client without
waking the relaying task; everything that is not a plain part of the answer (its end, a
cut, a stall, an error event, a full client socket) is handed back to the task in order.
The same faults as `test_streams`, with the chunks spaced so that the direct path is the
one carrying the answer when they strike."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
import pytest

from switchpoint.chat.stream import StreamEvent
from switchpoint.execution.stream_run import StreamRun
from switchpoint.server.protocol import HttpProtocol
from tests.fakes import CutAfter, InvalidEvent, StallAfter, StreamErrorEvent
from tests.resilience.gateway_thread import GatewayThread
from tests.resilience.test_streams import (
    ANSWER,
    USER,
    Pair,
    prefill,
    prepare,
    stream,
    trailing_assistant,
)
from tests.resilience.topology import KEYS, openai_pair

GAP_S = 0.02


@dataclass
class Deliveries:
    """How the direct path answered each read offered to it."""

    taken: int = 0
    refused: int = 0


@pytest.fixture
def deliveries(monkeypatch: pytest.MonkeyPatch) -> Iterator[Deliveries]:
    seen = Deliveries()
    deliver = StreamRun._deliver

    def counting(run: StreamRun, batch: list[StreamEvent]) -> bool:
        taken = deliver(run, batch)
        if taken:
            seen.taken += 1
        else:
            seen.refused += 1
        return taken

    monkeypatch.setattr(StreamRun, "_deliver", counting)
    yield seen


def spaced(pair: Pair) -> None:
    prepare(*pair)
    for fake in pair:
        fake.chunk_gap = GAP_S


def test_a_spaced_stream_is_relayed_directly_whole_and_in_order(
    pair: Pair, deliveries: Deliveries
) -> None:
    primary, backup = pair
    spaced(pair)
    with GatewayThread(openai_pair(primary.base_url, backup.base_url), KEYS) as gw:
        got = stream(gw)
        call = gw.recorder.calls[-1]
    assert got.error is None
    assert got.text == ANSWER and got.finish == "stop"
    assert got.usage is not None and got.usage.completion_tokens == len(ANSWER.split())
    # Past the first content (which commits the stream), each spaced chunk went direct.
    assert deliveries.taken >= 4
    assert call.attempts[0].outcome == "ok" and call.ttft_s is not None


def test_a_direct_stream_longer_than_the_idle_limit_is_not_a_stall(
    pair: Pair, deliveries: Deliveries
) -> None:
    # Chunks 0.2 s apart for ~1.6 s against an idle limit of 1 s: each chunk relayed
    # directly must move the wait's deadline, as a chunk relayed by the task would.
    primary, backup = pair
    prepare(*pair)
    primary.chunk_gap = 0.2
    with GatewayThread(openai_pair(primary.base_url, backup.base_url), KEYS) as gw:
        got = stream(gw)
        call = gw.recorder.calls[-1]
    assert got.text == ANSWER and got.finish == "stop"
    assert [attempt.outcome for attempt in call.attempts] == ["ok"]
    assert got.seconds > 1.0
    assert deliveries.taken >= 4


@pytest.mark.parametrize("events", [3, 6])
def test_a_cut_while_relaying_directly_is_continued_from_exactly_the_text_sent(
    pair: Pair, deliveries: Deliveries, events: int
) -> None:
    primary, backup = pair
    spaced(pair)
    primary.enqueue(CutAfter(events=events))
    document = openai_pair(primary.base_url, backup.base_url, models=prefill(True, None))
    with GatewayThread(document, KEYS) as gw:
        got = stream(gw)
        call = gw.recorder.calls[-1]
    assert got.text == ANSWER and got.finish == "stop"
    sent = trailing_assistant(primary, 1)
    assert sent is not None and ANSWER.startswith(sent) and 0 < len(sent) < len(ANSWER)
    assert call.continuations == 1
    assert deliveries.taken >= 1


def test_a_stall_while_relaying_directly_is_detected_at_the_idle_limit(
    pair: Pair, deliveries: Deliveries
) -> None:
    # Each direct read moves the wait's deadline; a stall must still end it.
    primary, backup = pair
    spaced(pair)
    primary.enqueue(StallAfter(events=6))
    document = openai_pair(primary.base_url, backup.base_url, models=prefill(True, True))
    with GatewayThread(document, KEYS) as gw:
        got = stream(gw)
        call = gw.recorder.calls[-1]
    assert got.text == ANSWER and got.finish == "stop"
    assert call.attempts[0].outcome == "stalled"
    assert got.seconds < 1.0 + 5  # the idle limit, plus a loaded machine's margin
    assert deliveries.taken >= 1


def test_an_error_event_while_relaying_directly_is_handed_back_and_continued(
    pair: Pair, deliveries: Deliveries
) -> None:
    primary, backup = pair
    spaced(pair)
    primary.enqueue(StreamErrorEvent(after=6, kind="server_error"))
    document = openai_pair(primary.base_url, backup.base_url, models=prefill(True, True))
    with GatewayThread(document, KEYS) as gw:
        got = stream(gw)
        call = gw.recorder.calls[-1]
    assert got.text == ANSWER and got.finish == "stop"
    assert call.attempts[0].outcome == "stream_error"
    assert deliveries.taken >= 1


def test_malformed_events_met_directly_are_skipped_and_counted(
    pair: Pair, deliveries: Deliveries
) -> None:
    primary, backup = pair
    spaced(pair)
    primary.enqueue(InvalidEvent(after=5, payload='{"choices": [7]}'))
    with GatewayThread(openai_pair(primary.base_url, backup.base_url), KEYS) as gw:
        got = stream(gw)
        call = gw.recorder.calls[-1]
    assert got.text == ANSWER and got.finish == "stop"
    assert call.malformed_events == 1
    assert deliveries.taken >= 1


def test_a_client_that_stops_reading_gets_the_rest_in_order_once_it_reads_again(
    pair: Pair, deliveries: Deliveries, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A large answer in many spaced chunks to a client that reads nothing for a while:
    # its socket fills, the direct path refuses the next read (nothing is buffered past
    # the server's limit by it), and the task relays on with backpressure. Once the
    # client reads again, every character arrives, in order, exactly once.
    # The gateway's sockets to clients get small kernel buffers, as on a slow link: its
    # own buffer, not the kernel's, is then what fills.
    made = HttpProtocol.connection_made

    def small_buffers(protocol: HttpProtocol, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
        made(protocol, transport)

    monkeypatch.setattr(HttpProtocol, "connection_made", small_buffers)
    primary, backup = pair
    prepare(*pair)
    words = [f"w{index:06d}" for index in range(60_000)]
    primary.reply_text = " ".join(words)
    primary.stream_chunks = 300
    primary.chunk_gap = 0.002
    with GatewayThread(openai_pair(primary.base_url, backup.base_url), KEYS) as gw:
        host, port = gw.base_url.split("//")[1].split("/")[0].split(":")
        body = orjson.dumps({"model": "main", "messages": USER, "stream": True})
        with socket.socket() as client:
            # A small receive window, set before connecting (it is agreed on then).
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            client.settimeout(30)
            client.connect((host, int(port)))
            client.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n"
                b"content-type: application/json\r\n"
                b"content-length: %d\r\n\r\n%b" % (len(body), body)
            )
            time.sleep(1.0)  # not reading: the gateway's writes to this socket pause
            received = bytearray()
            while not received.endswith(b"0\r\n\r\n"):
                piece = client.recv(65536)
                assert piece, "the gateway closed the stream early"
                received += piece
    text = "".join(
        choice["delta"].get("content") or ""
        for line in bytes(received).split(b"\n")
        if line.startswith(b"data: {")
        for choice in orjson.loads(line[6:])["choices"]
    )
    assert text == primary.reply_text
    assert deliveries.refused >= 1
    assert deliveries.taken >= 1
