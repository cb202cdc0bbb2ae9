"""`switchpoint serve` as a real process under a real open-file limit.

At start-up the gateway raises its soft limit to the hard one. At the hard limit, a call
it cannot open an upstream connection for gets a 503 with Retry-After at once, and the
provider's circuit breaker is not told: the provider did nothing wrong, and once
descriptors are free again calls go through, where an opened breaker would have refused
them all for its open period.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import yaml

from tests.fakes.openai_fake import OpenAIFake
from tests.gateway_process import REPO, GatewayProcess, gateway_process
from tests.raw_http import post, read_response

# Applies the limit, then becomes the gateway (same pid): no `preexec_fn` in a test
# process whose other threads (the fakes') could deadlock a fork.
_LIMITED = (
    "import os, resource, sys; "
    "resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2]))); "
    "os.execv(sys.executable, [sys.executable, '-m', 'switchpoint', *sys.argv[3:]])"
)


def open_files(running: GatewayProcess) -> int:
    return len(os.listdir(f"/proc/{running.process.pid}/fd"))


def config_file(tmp_path: Path, fake: OpenAIFake) -> Path:
    document = {
        "server": {"host": "127.0.0.1", "port": 0},
        "providers": {
            "oa": {"type": "openai", "base_url": fake.base_url, "api_key_env": "FAKE_OPENAI_KEY"}
        },
        "routing": {
            "default_profile": "only",
            "profiles": {
                "only": {
                    "model": "gpt-4o",
                    "provider": "oa",
                    "max_context": 100_000,
                    "cost_weight": 1.0,
                }
            },
            # A breaker that two failed connects in three calls would open, were they
            # counted against the provider.
            "fallback": {
                "circuit_breaker_threshold": 0.5,
                "circuit_breaker": {"min_requests": 2, "open_s": 60},
                "backoff_base_s": 0.01,
            },
        },
        "logging": {"format": "json", "access_log": False},
    }
    path = tmp_path / "switchpoint.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@contextlib.contextmanager
def gateway(config: Path, fake: OpenAIFake, soft: int, hard: int) -> Iterator[GatewayProcess]:
    argv = [sys.executable, "-c", _LIMITED, str(soft), str(hard), "serve", "--config", str(config)]
    env = {**os.environ, "FAKE_OPENAI_KEY": fake.api_key, "PYTHONPATH": str(REPO)}
    with gateway_process(argv, cwd=config.parent, env=env) as running:
        yield running


def settled_open_files(running: GatewayProcess) -> int:
    """The gateway's descriptor count once it has stopped moving (a client connection
    just closed is let go a moment later)."""
    last = open_files(running)
    while True:
        time.sleep(0.1)
        now = open_files(running)
        if now == last:
            return now
        last = now


def limits_of(pid: int) -> tuple[int, int]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no open-file limit in /proc/<pid>/limits")


def call(base_url: str) -> str:
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)
    answer = client.chat.completions.create(
        model="only", messages=[{"role": "user", "content": "hi"}]
    )
    client.close()
    return answer.choices[0].message.content or ""


def test_the_soft_limit_is_raised_to_the_hard_one(tmp_path: Path, openai_fake: OpenAIFake) -> None:
    with gateway(config_file(tmp_path, openai_fake), openai_fake, soft=128, hard=4096) as running:
        assert limits_of(running.process.pid) == (4096, 4096)
        assert running.logged("open-file limit raised from 128 to 4096")
        # 4096 leaves room for some 2,000 calls: nothing to warn about.
        assert not running.logged("leaves room for about")
        assert call(running.url) == "Hello from gpt-4o."


# A call on a kept-alive connection: answering it frees no descriptor, so every call but
# one (which finds the pooled upstream connection) needs a new one.
CALL = json.dumps({"model": "only", "messages": [{"role": "user", "content": "hi"}]}).encode()


def test_out_of_descriptors_is_a_503_and_not_the_providers_failure(
    tmp_path: Path, openai_fake: OpenAIFake
) -> None:
    limit = 80
    with gateway(config_file(tmp_path, openai_fake), openai_fake, limit, limit) as running:
        assert limits_of(running.process.pid) == (limit, limit)
        assert running.logged("leaves room for about 8 concurrent calls")
        host, port = running.url.removeprefix("http://").split(":")
        # One call first: what the gateway opens lazily is open, and one upstream
        # connection waits in the pool.
        assert call(running.url) == "Hello from gpt-4o."
        # The upstream answers slowly, so the pooled connection stays taken by the first
        # call below and the others each need a new one.
        openai_fake.header_delay = 0.5
        held: list[socket.socket] = []
        try:
            # Idle client connections until the gateway holds `limit` descriptors, each
            # waited for until accepted (other descriptors may come and go meanwhile:
            # the count is a floor, not an exact tally).
            base = settled_open_files(running)
            while open_files(running) < limit:
                assert len(held) < limit, "the gateway does not take the connections"
                held.append(socket.create_connection((host, int(port)), timeout=10))
                settle = time.monotonic() + 2
                while (
                    open_files(running) < min(limit, base + len(held)) and time.monotonic() < settle
                ):
                    time.sleep(0.005)
            # The first ones, accepted while descriptors were still free.
            senders = held[:4]
            for sock in senders:
                sock.sendall(post("/v1/chat/completions", CALL))
            answers = [read_response(sock) for sock in senders]
        finally:
            for sock in held:
                sock.close()
        statuses = sorted(status for status, _, _ in answers)
        assert statuses.count(503) >= 3, answers
        assert set(statuses) <= {200, 503}, answers
        for status, headers, body in answers:
            if status == 503:
                assert headers["retry-after"] == "1"
                error = json.loads(body)["error"]
                assert error["code"] == "overloaded"
                assert "Too many open files" in error["message"]
                assert "not the provider's" in error["message"]
        assert running.logged("Too many open files")
        # Descriptors are free again, and the provider was never blamed: the next call
        # goes through at once.
        openai_fake.header_delay = 0.0
        assert call(running.url) == "Hello from gpt-4o."
        assert not running.logged("circuit breaker")
