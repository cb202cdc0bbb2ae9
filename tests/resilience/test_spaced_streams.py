"""Streams whose chunks arrive one read at a time, as a real model's do: the same faults
as `test_streams` strike between spaced chunks, mid-relay (a cut, a stall, an error
event, a malformed event); an answer that lasts longer than the idle limit is not a
stall; and a client that stops reading until its socket is full gets the rest, in
order, once it reads again."""

from __future__ import annotations

import socket
import time
from typing import Any

import orjson
import pytest

from switchpoint.execution.records import CallRecord
from switchpoint.server.protocol import HttpProtocol
from tests.fakes import CutAfter, InvalidEvent, StallAfter, StreamErrorEvent
from tests.resilience.gateway_thread import GatewayThread
from tests.resilience.slow_links import small_send_buffers
from tests.resilience.test_streams import (
    ANSWER,
    USER,
    Pair,
    Received,
    prefill,
    prepare,
    stream,
    trailing_assistant,
)
from tests.resilience.topology import KEYS, openai_pair

GAP_S = 0.02


def spaced(pair: Pair) -> None:
    prepare(*pair)
    for fake in pair:
        fake.chunk_gap = GAP_S


def streamed(pair: Pair, models: dict[str, Any] | None = None) -> tuple[Received, CallRecord]:
    """One streamed call through a gateway over `pair`: what the client got, and the
    call's record."""
    primary, backup = pair
    with GatewayThread(openai_pair(primary.base_url, backup.base_url, models=models), KEYS) as gw:
        return stream(gw), gw.recorder.calls[-1]


def test_a_spaced_stream_is_relayed_whole_and_in_order(pair: Pair) -> None:
    spaced(pair)
    got, call = streamed(pair)
    assert got.error is None
    assert got.text == ANSWER and got.finish == "stop"
    assert got.usage is not None and got.usage.completion_tokens == len(ANSWER.split())
    assert call.attempts[0].outcome == "ok" and call.ttft_s is not None


def test_a_stream_longer_than_the_idle_limit_is_not_a_stall(pair: Pair) -> None:
    # Chunks 0.2 s apart for ~1.6 s against an idle limit of 1 s: every chunk of content
    # moves the wait's deadline on.
    primary = pair[0]
    prepare(*pair)
    primary.chunk_gap = 0.2
    got, call = streamed(pair)
    assert got.text == ANSWER and got.finish == "stop"
    assert [attempt.outcome for attempt in call.attempts] == ["ok"]
    assert got.seconds > 1.0


@pytest.mark.parametrize("events", [3, 6])
def test_a_cut_between_spaced_chunks_is_continued_from_exactly_the_text_sent(
    pair: Pair, events: int
) -> None:
    primary = pair[0]
    spaced(pair)
    primary.enqueue(CutAfter(events=events))
    got, call = streamed(pair, prefill(True, None))
    assert got.text == ANSWER and got.finish == "stop"
    sent = trailing_assistant(primary, 1)
    assert sent is not None and ANSWER.startswith(sent) and 0 < len(sent) < len(ANSWER)
    assert call.continuations == 1


def test_a_stall_between_spaced_chunks_is_detected_at_the_idle_limit(pair: Pair) -> None:
    # Each chunk moves the wait's deadline on; a stall must still end it.
    primary = pair[0]
    spaced(pair)
    primary.enqueue(StallAfter(events=6))
    got, call = streamed(pair, prefill(True, True))
    assert got.text == ANSWER and got.finish == "stop"
    assert call.attempts[0].outcome == "stalled"
    assert got.seconds < 1.0 + 5  # the idle limit, plus a loaded machine's margin


def test_an_error_event_between_spaced_chunks_is_continued(pair: Pair) -> None:
    primary = pair[0]
    spaced(pair)
    primary.enqueue(StreamErrorEvent(after=6, kind="server_error"))
    got, call = streamed(pair, prefill(True, True))
    assert got.text == ANSWER and got.finish == "stop"
    assert call.attempts[0].outcome == "stream_error"


def test_malformed_events_between_spaced_chunks_are_skipped_and_counted(pair: Pair) -> None:
    primary = pair[0]
    spaced(pair)
    primary.enqueue(InvalidEvent(after=5, payload='{"choices": [7]}'))
    got, call = streamed(pair)
    assert got.text == ANSWER and got.finish == "stop"
    assert call.malformed_events == 1


def test_a_client_that_stops_reading_gets_the_rest_in_order_once_it_reads_again(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A large answer in many spaced chunks to a client that reads nothing for a while:
    # its socket fills, the gateway's writes pause and the relay waits (backpressure).
    # Once the client reads again, every character arrives, in order, exactly once.
    # The gateway's sockets to clients get small kernel buffers, as on a slow link.
    small_send_buffers(monkeypatch)
    paused: list[HttpProtocol] = []
    pause = HttpProtocol.pause_writing

    def counted_pause(protocol: HttpProtocol) -> None:
        paused.append(protocol)
        pause(protocol)

    monkeypatch.setattr(HttpProtocol, "pause_writing", counted_pause)
    primary, backup = pair
    prepare(*pair)
    words = [f"w{index:06d}" for index in range(60_000)]
    primary.reply_text = " ".join(words)
    primary.stream_chunks = 300
    primary.chunk_gap = 0.002
    with GatewayThread(openai_pair(primary.base_url, backup.base_url), KEYS) as gw:
        body = orjson.dumps({"model": "main", "messages": USER, "stream": True})
        with socket.socket() as client:
            # A small receive window, set before connecting (it is agreed on then).
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            client.settimeout(30)
            client.connect((gw.server.host, gw.server.port))
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
    assert paused  # the scenario did fill the client's socket
