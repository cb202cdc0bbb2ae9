"""Summaries shared through Redis (`routing.context.summary_cache: {type: redis}`) by
several gateways and by the worker processes of one `switchpoint serve`; a Redis that is
down costs summaries, never a request."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import redis

from tests.context.conftest import CLIENT_KEY, ContextStack, StackFactory
from tests.context.test_summarize import agent_request
from tests.fakes import OpenAIFake
from tests.redis_fixtures import REDIS_URL, redis_prefix

__all__ = ["redis_prefix"]

ROOT = Path(__file__).resolve().parents[2]


def summarized(response: httpx2.Response) -> bool:
    assert response.status_code == 200, response.text
    return response.headers["x-switchpoint-context"] == "summarized"


def test_two_gateways_share_their_summaries(make_stack: StackFactory, redis_prefix: str) -> None:
    cache = {"type": "redis", "url": REDIS_URL, "key_prefix": redis_prefix}
    first: ContextStack = make_stack(summary_cache=cache)
    second: ContextStack = make_stack(summary_cache=cache)
    body = agent_request(150_000)
    assert summarized(first.post("/v1/chat/completions", body))
    written = first.summarizer.request_count()
    assert written >= 2
    assert len(list(redis.Redis.from_url(REDIS_URL).scan_iter(f"{redis_prefix}:*"))) >= written
    # Another instance (or worker) sees them: no summarizer call at all.
    assert summarized(second.post("/v1/chat/completions", body))
    assert first.summarizer.request_count() == written
    assert second.recorder.calls[-1].summarization.cache_hits >= 1  # type: ignore[union-attr]


def test_a_redis_that_is_down_only_costs_summaries(
    make_stack: StackFactory, refused_port: int
) -> None:
    stack = make_stack(
        summary_cache={"type": "redis", "url": f"redis://127.0.0.1:{refused_port}/0"}
    )
    body = agent_request(150_000)
    assert summarized(stack.post("/v1/chat/completions", body))
    written = stack.summarizer.request_count()
    assert summarized(stack.post("/v1/chat/completions", body))
    assert stack.summarizer.request_count() == 2 * written  # no cache, still served


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_worker_processes_summarize_and_share_through_redis(
    stack: ContextStack, redis_prefix: str, tmp_path: Path
) -> None:
    document = json.loads(json.dumps(stack.document))
    document["server"]["workers"] = 2
    document["routing"]["context"]["summary_cache"] = {
        "type": "redis",
        "url": REDIS_URL,
        "key_prefix": redis_prefix,
    }
    config = tmp_path / "config.json"
    config.write_text(json.dumps(document))
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environ.pop("SWITCHPOINT_MASTER_KEY", None)
    fakes: list[OpenAIFake] = [stack.main, stack.summarizer]
    environ.update({"K_MAIN": fakes[0].api_key, "K_SUM": fakes[1].api_key})
    environ.update({"K_ANT": stack.claude.api_key, "K_GEM": stack.long.api_key})
    process = subprocess.Popen(
        [sys.executable, "-m", "switchpoint", "serve", "-c", str(config), "--port", str(port)],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None and time.monotonic() < deadline
            try:
                if httpx2.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                time.sleep(0.1)
        body = agent_request(150_000)
        for _ in range(4):
            # A fresh connection each time, so the kernel spreads them over the workers.
            with httpx2.Client(timeout=120) as client:
                response = client.post(
                    f"{base}/v1/chat/completions",
                    json=body,
                    headers={"authorization": f"Bearer {CLIENT_KEY}"},
                )
            assert summarized(response)
        # Whichever worker answered, each summary was written once.
        chunks = stack.summarizer.request_count()
        assert 2 <= chunks <= 10
        assert stack.main.request_count() == 4
        assert all(len(r.body["messages"]) < len(body["messages"]) for r in stack.main.requests)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    # The same conversation always makes the same chunks: the second worker (if it got a
    # request) found them all in Redis.
    assert stack.summarizer.request_count() == chunks
