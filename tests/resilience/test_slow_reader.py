"""A client that takes its time with a stream: while its socket is full, the gateway
stops reading the vendor (backpressure), and what the vendor sends meanwhile waits in
the buffers. That wait is the client's, not the vendor's: it is no stall of the vendor,
so it is neither a continuation (the prompt billed again) nor a failure for the breaker.
And when such a client leaves, what waited for it is let go with the vendor's connection.
Found by a client-fault probe."""

from __future__ import annotations

import socket
import time
import tracemalloc

import orjson
import pytest

from tests.resilience.gateway_thread import GatewayThread
from tests.resilience.slow_links import small_send_buffers
from tests.resilience.test_streams import USER, Pair, prepare
from tests.resilience.topology import FAST_PROVIDER, KEYS, openai_pair
from tests.waiting import wait_until

# Longer than the vendors' idle limit in these tests, far shorter than the write limit.
CLIENT_BUSY_S = FAST_PROVIDER["stream_idle_timeout_s"] * 2.5


def test_a_client_busy_past_the_idle_limit_is_no_stall_of_the_vendor(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_send_buffers(monkeypatch)
    primary, backup = pair
    prepare(*pair)
    primary.reply_text = " ".join(f"w{index:06d}" for index in range(150_000))
    primary.stream_chunks = 300
    models = {"gpt-a": {"supports_prefill": True}, "gpt-b": {"supports_prefill": True}}
    with GatewayThread(openai_pair(primary.base_url, backup.base_url, models=models), KEYS) as gw:
        body = orjson.dumps({"model": "main", "messages": USER, "stream": True})
        with socket.socket() as client:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            client.settimeout(30)
            client.connect((gw.server.host, gw.server.port))
            client.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n"
                b"content-type: application/json\r\n"
                b"content-length: %d\r\n\r\n%b" % (len(body), body)
            )
            received = bytearray(client.recv(4096))
            time.sleep(CLIENT_BUSY_S)  # busy elsewhere: reads nothing
            while not received.endswith(b"0\r\n\r\n"):
                piece = client.recv(1 << 20)
                assert piece, "the gateway closed the stream early"
                received += piece
        assert wait_until(lambda: bool(gw.recorder.calls), 5)
        call = gw.recorder.calls[-1]
    text = "".join(
        choice["delta"].get("content") or ""
        for line in bytes(received).split(b"\n")
        if line.startswith(b"data: {")
        for choice in orjson.loads(line[6:])["choices"]
    )
    assert text == primary.reply_text
    # One attempt, whole: the vendor was never asked again, nor blamed.
    assert [(a.outcome, a.reason) for a in call.attempts] == [("ok", "first")]
    assert call.continuations == 0 and primary.request_count() == 1
    assert not call.attempts[0].usage_estimated


@pytest.mark.usefixtures("collections_wait")
def test_a_client_that_leaves_a_full_buffer_leaves_none_of_it_behind(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The vendor answers far faster than the client reads: its connection's buffer fills
    # (up to the 1 MB at which reading it pauses). The client then hangs up. The closed
    # connection is freed by a garbage collection (it and its parser reference each
    # other), which a server runs rarely: the vendor's unread answer must not wait for it.
    small_send_buffers(monkeypatch)
    primary, backup = pair
    primary.reply_text = "wordy " * 1_000_000
    primary.stream_chunks = 1000
    clients = 3
    with GatewayThread(openai_pair(primary.base_url, backup.base_url), KEYS) as gw:
        body = orjson.dumps({"model": "main", "messages": USER, "stream": True})
        tracemalloc.start()
        try:
            for _ in range(clients):
                with socket.socket() as client:
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                    client.connect((gw.server.host, gw.server.port))
                    client.sendall(
                        b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n"
                        b"content-length: %d\r\n\r\n%b" % (len(body), body)
                    )
                    client.recv(4096)
                    time.sleep(0.5)  # the buffers fill
            assert wait_until(lambda: len(gw.recorder.calls) == clients, 5)
            snapshot = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
    assert [call.status for call in gw.recorder.calls] == ["cancelled"] * clients
    # What the gateway read from the vendor and still holds (the fake's own objects aside).
    read = snapshot.filter_traces([tracemalloc.Filter(True, "*/switchpoint/transport/*")])
    held = sum(stat.size for stat in read.statistics("filename"))
    assert held < 256 << 10, f"{held / 1e6:.1f} MB of the vendor's answers still held"
