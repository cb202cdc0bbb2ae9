"""Stopping the server while clients keep their connections busy: a keep-alive client
that sends its next request as soon as an answer arrives (an SDK's sequential calls, a
load balancer's pooled connection) must not hold the drain open until the grace runs
out and then have a call cut; the answer in flight says `connection: close`, and no
new request is taken on a connection once the drain has begun."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from switchpoint.config.loader import parse_config
from switchpoint.server.background import BackgroundServer
from tests.raw_http import Reader

PROFILE = {"model": "sim-model", "provider": "sim", "max_context": 100_000, "cost_weight": 1.0}
BODY = b'{"model": "only", "messages": [{"role": "user", "content": "hi"}]}'
REQUEST = (
    b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\n"
    b"content-length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
)


def server(tmp_path: Path, grace_s: float) -> BackgroundServer:
    config = parse_config(
        {
            "server": {"shutdown_grace_s": grace_s},
            "providers": {
                "sim": {
                    "type": "simulated",
                    "simulation": {"latency_ms": 100, "chunk_delay_ms": 0, "output_tokens": 5},
                }
            },
            "routing": {"default_profile": "only", "profiles": {"only": PROFILE}},
            "ledger": {"enabled": False},
            "logging": {"access_log": False},
        }
    )
    return BackgroundServer(config, environ={})


class SequentialClient(threading.Thread):
    """Sends a request on one keep-alive connection as soon as the previous answer is
    in, until the server closes the connection; notes each answer's status and
    `connection` header."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.answers: list[tuple[int, str]] = []
        self.first = threading.Event()
        self.ended: str = ""

    def run(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port)) as sock:
            sock.settimeout(10)
            reader = Reader(sock)
            try:
                while True:
                    sock.sendall(REQUEST)
                    status, headers, _ = reader.response()
                    self.answers.append((status, headers.get("connection", "")))
                    self.first.set()
                    if headers.get("connection") == "close":
                        self.ended = "close"
                        return
            except (ConnectionError, OSError) as exc:
                self.ended = f"dropped: {exc}"
            finally:
                self.first.set()


def test_a_busy_keep_alive_connection_is_closed_after_its_answer_at_shutdown(
    tmp_path: Path,
) -> None:
    running = server(tmp_path, grace_s=5).start()
    client = SequentialClient(running.port)
    client.start()
    assert client.first.wait(10)
    started = time.monotonic()
    running.stop()
    stopped_in = time.monotonic() - started
    client.join(10)
    # The call in flight finishes (about 0.1 s), then the connection is closed: the
    # drain does not wait for the grace, and nothing is cut.
    assert stopped_in < 2.0, f"the drain took {stopped_in:.1f}s"
    assert client.answers and all(status == 200 for status, _ in client.answers)
    assert client.ended == "close", client.ended
