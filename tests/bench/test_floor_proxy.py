"""The floor proxy passes requests and streams through unchanged, on pooled connections."""

from __future__ import annotations

import http.client
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import fake_upstream
from bench.payloads import chat_body
from bench.procs import ManagedProcess, free_port


@pytest.fixture(
    scope="module",
    params=[(), ("--sse-work",), ("--sse-work", "--task-relay")],
    ids=["bytes", "sse-work", "task-relay"],
)
def floor(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[int, int]]:
    """The proxy as is, and with `--sse-work` and `--task-relay` (which must leave what it
    relays untouched)."""
    logs = tmp_path_factory.mktemp("floor")
    root = str(Path(__file__).resolve().parents[2])
    upstream, upstream_port = fake_upstream.start(logs / "upstream.log", None)
    proxy_port = free_port()
    proxy = ManagedProcess(
        name="floor_proxy",
        argv=[sys.executable, "-m", "bench.floor_proxy", "--port", str(proxy_port),
              "--upstream", f"http://127.0.0.1:{upstream_port}", *request.param],
        env={"PYTHONPATH": root}, cpus=None, log_path=logs / "proxy.log", cwd=Path(root),
    )
    try:
        proxy.start()
        proxy.wait_ready("127.0.0.1", proxy_port, "/readyz", 20)
        yield upstream_port, proxy_port
    finally:
        proxy.stop()
        upstream.stop()


def test_answers_and_streams_are_those_of_the_upstream(floor: tuple[int, int]) -> None:
    upstream_port, proxy_port = floor
    direct = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=10)
    proxied = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=10)
    for stream in (False, True, False, True):
        body = chat_body("bench-model", stream=stream)
        answers = []
        for conn in (direct, proxied):
            conn.request("POST", "/v1/chat/completions", body=body)
            response = conn.getresponse()
            assert response.status == 200
            answers.append(response.read())
        assert answers[0] == answers[1]
        if stream:
            assert answers[1].endswith(b"data: [DONE]\n\n")
    # One keep-alive client connection served all four over the proxy.
    assert proxied.sock is not None
    direct.close()
    proxied.close()
