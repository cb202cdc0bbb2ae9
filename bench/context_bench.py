"""The context on the request path, measured: counting before routing, and what
hierarchical summarization adds end to end.

    python -m bench.context_bench              # both parts (a few minutes)
    python -m bench.context_bench --part count # in-process counting only
    python -m bench.context_bench --part e2e   # through a gateway process only

Part 1, counting (in process, one gateway, the built-in configuration): CPU time of
`Gateway.assess` + `Gateway.route` (what ingress does before dispatch: size the request,
refine with the BPE near a limit, plan the summarization if routing will want it) for a
1 KB request and generated agent transcripts of about 100K, 600K and 1M o200k tokens,
routed as `terminal_agent` (1M context, threshold 600K) and `cost_sensitive` (128K).
"cold": first sight of the conversation (empty piece cache, BPE loaded); "warm": the same
history again (an agent loop's next request). CPU time is the whole process's (the BPE
and the planning run in worker threads), best of N; wall beside it.

Part 2, end to end (`switchpoint serve` pinned to CPU 1, `bench.fake_upstream` on CPU 0
answering both the model and the summarizer instantly, ledger and access log off): for
each size, the request's latency and the gateway's CPU per request when it
* passes (sent as is to a 2M-context profile: the baseline of forwarding it),
* is summarized for a 50K-context profile, first time (every chunk summarized),
* is summarized again (the same history: every summary from the cache),
* is summarized in an agent loop (two more turns: only the new tail is summarized).
The summarizer answers at once, so the figures are switchpoint's own overhead; a real
summarizer adds its generation time (seconds per chunk, chunks 4 at a time).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench import fake_upstream
from bench.procfs import tree_cpu_precise_s
from bench.procs import ManagedProcess, free_port, install_cleanup, stop_all
from switchpoint.chat.request import ChatRequest
from switchpoint.config.defaults import default_document
from switchpoint.config.loader import parse_config
from switchpoint.gateway import Gateway
from switchpoint.ingress.openai_chat import OpenAIChatCodec
from switchpoint.tokens import bpe
from tests.data.transcripts import generate, openai_body

ROOT = Path(__file__).resolve().parent.parent
SIZES = (100_000, 600_000, 1_000_000)
CODEC = OpenAIChatCodec()
SMALL = {
    "model": "auto",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant. " * 10},
        {"role": "user", "content": "Explain lists and tuples in Python, with an example. " * 8},
    ],
}


# Part 1 ---------------------------------------------------------------------------------
def _gateway() -> Gateway:
    document = default_document()
    document["ledger"] = {"enabled": False}
    document["logging"] = {"access_log": False}
    return Gateway(parse_config(document), assume_available=True)


async def _assess(gateway: Gateway, raw: bytes, workload: str, n: int) -> tuple[float, float, str]:
    """Mean CPU and wall of `n` assessments of `raw` (parsed afresh each time)."""
    requests = []
    for _ in range(n):
        body = orjson.loads(raw)
        requests.append(ChatRequest(CODEC.protocol, body, stream=False, decoder=CODEC.decode))
    action = ""
    cpu, wall = time.process_time(), time.perf_counter()
    for request in requests:
        context = await gateway.assess(request, workload=workload, model=None, raw=raw)
        decision, _ = gateway.route(context, budget=1.0)
        action = decision.context_action
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / n, wall / n, action


def part_count(repeats: int) -> None:
    bpe.warm()
    print("\nPart 1: counting before routing (CPU ms of the process, best of", repeats, ")")
    print(
        f"{'request':>14} {'workload':>15} {'cold CPU':>9} {'cold wall':>10} "
        f"{'warm CPU':>9} {'warm wall':>10}  decision"
    )
    bodies: list[tuple[str, bytes]] = [("1 KB", orjson.dumps(SMALL))]
    bodies += [
        (f"{size // 1000}K tok", orjson.dumps(openai_body(generate(size, seed=9))))
        for size in SIZES
    ]
    for label, raw in bodies:
        for workload in ("terminal_agent", "cost_sensitive"):
            n = 2000 if label == "1 KB" else 1
            colds, warms = [], []
            action = ""
            for _ in range(repeats):
                gateway = _gateway()  # a fresh piece cache: cold
                # Small requests: a batch (one sighting warms nothing that matters).
                cold = asyncio.run(_assess(gateway, raw, workload, n))
                warm = asyncio.run(_assess(gateway, raw, workload, n))
                colds.append(cold[:2])
                warms.append(warm[:2])
                action = cold[2]
            unit, scale = ("µs", 1e6) if label == "1 KB" else ("ms", 1e3)
            cold_cpu = min(c[0] for c in colds) * scale
            cold_wall = statistics.median(c[1] for c in colds) * scale
            warm_cpu = min(w[0] for w in warms) * scale
            warm_wall = statistics.median(w[1] for w in warms) * scale
            print(
                f"{label:>14} {workload:>15} {cold_cpu:7.1f}{unit} {cold_wall:8.1f}{unit} "
                f"{warm_cpu:7.1f}{unit} {warm_wall:8.1f}{unit}  {action}"
            )


# Part 2 ---------------------------------------------------------------------------------
def _config(upstream_port: int) -> dict[str, Any]:
    profile = {"provider": "openai", "cost_weight": 0.5}
    return {
        "providers": {
            "openai": {
                "type": "openai",
                "base_url": f"http://127.0.0.1:{upstream_port}/v1",
                "api_key_env": "BENCH_KEY",
            }
        },
        "routing": {
            "default_profile": "small",
            "context": {
                "reliability_threshold": 2_000_000,
                "long_context_profile": None,
                "summarizer_profile": "summarizer",
            },
            "cost": {"budget_profile": None},
            "profiles": {
                "small": {"model": "gpt-5.4", "max_context": 50_000, **profile},
                "big": {"model": "gpt-5.5", "max_context": 2_000_000, **profile},
                "summarizer": {"model": "gpt-5.4-mini", "max_context": 128_000, **profile},
            },
        },
        "server": {"max_body_bytes": 64 * 1024 * 1024},
        "logging": {"access_log": False, "level": "warning"},
        "ledger": {"enabled": False},
    }


class _Client:
    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

    def post(self, body: bytes) -> tuple[float, dict[str, str]]:
        started = time.perf_counter()
        self.connection.request(
            "POST",
            "/v1/chat/completions",
            body=body,
            headers={"Content-Type": "application/json", "Authorization": "Bearer x"},
        )
        response = response_of(self.connection)
        elapsed = time.perf_counter() - started
        return elapsed, response


def response_of(connection: http.client.HTTPConnection) -> dict[str, str]:
    response = connection.getresponse()
    payload = response.read()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {payload[:300]!r}")
    return {k.lower(): v for k, v in response.getheaders() if k.lower().startswith("x-switch")}


def part_e2e(repeats: int) -> None:
    install_cleanup()
    print("\nPart 2: end to end through a gateway process (median of", repeats, ")")
    print(
        f"{'request':>9} {'case':>22} {'latency':>9} {'gateway CPU':>12} {'context':>11} "
        f"{'tokens before -> after':>24}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-context-") as tmp:
        logs = Path(tmp)
        _upstream, upstream_port = fake_upstream.start(logs / "upstream.log", {0})
        port = free_port()
        config = logs / "config.json"
        config.write_text(orjson.dumps(_config(upstream_port)).decode())
        gateway = ManagedProcess(
            "switchpoint",
            [sys.executable, "-m", "switchpoint", "serve", "-c", str(config), "--port", str(port)],
            {"BENCH_KEY": "sk-bench", "PYTHONPATH": str(ROOT)},
            {1},
            logs / "gateway.log",
            cwd=ROOT,
        )
        try:
            gateway.start()
            gateway.wait_ready("127.0.0.1", port, "/readyz", 30)
            time.sleep(2.0)  # the BPE is loaded in the background after start-up
            client = _Client(port)
            for size in SIZES:
                _e2e_size(client, gateway.pid, size, repeats)
        finally:
            stop_all()


def _measure(client: _Client, pid: int, body: bytes) -> tuple[float, float, dict[str, str]]:
    cpu = tree_cpu_precise_s(pid)
    latency, headers = client.post(body)
    return latency, tree_cpu_precise_s(pid) - cpu, headers


def _row(size: int, case: str, samples: list[tuple[float, float, dict[str, str]]]) -> None:
    latency = statistics.median(s[0] for s in samples) * 1e3
    cpu = statistics.median(s[1] for s in samples) * 1e3
    headers = samples[-1][2]
    action = headers.get("x-switchpoint-context", "?")
    before = headers.get("x-switchpoint-context-tokens-before", "?")
    after = headers.get("x-switchpoint-context-tokens-after", "?")
    print(
        f"{size // 1000:>7}K {case:>22} {latency:7.0f}ms {cpu:10.0f}ms {action:>11} "
        f"{before:>11} -> {after:<9}"
    )


def _e2e_size(client: _Client, pid: int, size: int, repeats: int) -> None:
    passed, cold, warm, loop = [], [], [], []
    for seed in range(repeats):
        document = openai_body(generate(size, seed=100 + seed))
        document["model"] = "big"
        passed.append(_measure(client, pid, orjson.dumps(document)))
        document["model"] = "small"
        body = orjson.dumps(document)
        cold.append(_measure(client, pid, body))
        warm.append(_measure(client, pid, body))
        document["messages"] += [
            {"role": "assistant", "content": "The fix is in; running the suite again. " * 20},
            {"role": "user", "content": "Good. Now update the changelog too."},
        ]
        loop.append(_measure(client, pid, orjson.dumps(document)))
    _row(size, "passed (baseline)", passed)
    _row(size, "summarized, cold", cold)
    _row(size, "summarized, same again", warm)
    _row(size, "summarized, loop +2", loop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["count", "e2e", "all"], default="all")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.part in ("count", "all"):
        part_count(args.repeats)
    if args.part in ("e2e", "all"):
        part_e2e(args.repeats)


if __name__ == "__main__":
    main()
