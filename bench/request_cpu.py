"""CPU the gateway spends per request, for one request shape, against a checkout.

The quick check for "does this change cost the hot path anything": the fake upstream on
CPU 0, `switchpoint serve` (ledger and access log off, so that routing and the request
path are what is measured) pinned to CPU 1, wrk driving it from CPU 0 with a fixed
body; the gateway's CPU time is read from /proc before and after each run. Runs
alternate between checkouts so that machine load affects them alike.

    python -m bench.request_cpu --root . --root /tmp/main-checkout --size 1024 --repeats 5
    python -m bench.request_cpu --root . --api chat --api responses   # the two OpenAI APIs

Prints, per checkout (and API), the median and the range of µs of CPU per request.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import orjson

from bench import fake_upstream, wrk
from bench.payloads import chat_body, responses_body
from bench.procfs import tree_cpu_precise_s
from bench.procs import ManagedProcess, free_port, install_cleanup, stop_all


def _config(upstream_port: int) -> str:
    return orjson.dumps(
        {
            "providers": {
                "openai": {
                    "type": "openai",
                    "base_url": f"http://127.0.0.1:{upstream_port}/v1",
                    "api_key_env": "BENCH_KEY",
                }
            },
            "routing": {
                "default_profile": "chat",
                "context": {"long_context_profile": None},
                "cost": {"budget_profile": None},
                "profiles": {
                    "chat": {
                        "model": "gpt-5.4",
                        "provider": "openai",
                        "max_context": 128_000,
                        "cost_weight": 0.5,
                    }
                },
            },
            "logging": {"access_log": False, "level": "warning"},
            "ledger": {"enabled": False},
        }
    ).decode()


def _gateway(root: Path, upstream_port: int, logs: Path) -> tuple[ManagedProcess, int]:
    port = free_port()
    config = logs / f"gateway-{port}.json"
    config.write_text(_config(upstream_port))
    argv = [sys.executable, "-m", "switchpoint", "serve"]
    process = ManagedProcess(
        name=f"switchpoint@{root}",
        argv=[*argv, "--config", str(config), "--port", str(port)],
        env={"BENCH_KEY": "sk-bench", "PYTHONPATH": str(root)},
        cpus={1},
        log_path=logs / f"gateway-{port}.log",
        cwd=root,
    )
    process.start()
    process.wait_ready("127.0.0.1", port, "/readyz", 30)
    return process, port


_PATHS = {"chat": "/v1/chat/completions", "responses": "/v1/responses"}


def measure(
    root: Path, upstream_port: int, body: bytes, seconds: float, logs: Path, api: str = "chat"
) -> float:
    """µs of gateway CPU per completed request."""
    process, port = _gateway(root, upstream_port, logs)
    try:
        url = f"http://127.0.0.1:{port}{_PATHS[api]}"
        headers = {"Content-Type": "application/json", "Authorization": "Bearer x"}
        wrk.run(url, body, connections=16, duration_s=2, headers=headers, cpus={0})  # warm-up
        before = tree_cpu_precise_s(process.pid)
        result = wrk.run(url, body, connections=16, duration_s=seconds, headers=headers, cpus={0})
        after = tree_cpu_precise_s(process.pid)
        if result.requests <= 0 or result.errors:
            raise RuntimeError(f"{root}: {result.requests} requests, {result.errors} errors")
        return (after - before) / result.requests * 1e6
    finally:
        process.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", action="append", required=True, help="a checkout (repeatable)")
    parser.add_argument("--size", type=int, default=1024, help="request body bytes")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--api", action="append", choices=sorted(_PATHS), help="chat (default), responses"
    )
    args = parser.parse_args()
    install_cleanup()
    chat = chat_body("chat", size_bytes=args.size)
    bodies = {"chat": chat, "responses": responses_body(chat)}
    runs = [(root, api) for root in args.root for api in args.api or ["chat"]]
    results: dict[tuple[str, str], list[float]] = {run: [] for run in runs}
    with tempfile.TemporaryDirectory(prefix="bench-request-cpu-") as tmp:
        logs = Path(tmp)
        _upstream, upstream_port = fake_upstream.start(logs / "upstream.log", {0})
        try:
            for _ in range(args.repeats):
                for root, api in runs:
                    us = measure(
                        Path(root).resolve(), upstream_port, bodies[api], args.seconds, logs, api
                    )
                    results[(root, api)].append(us)
                    print(f"{root} {api}: {us:.1f} µs/request", flush=True)
        finally:
            stop_all()
    print(f"\nchat body {len(chat)} bytes, {args.repeats} runs of {args.seconds:g} s each")
    for (root, api), values in results.items():
        print(
            f"{root} {api}: median {statistics.median(values):.1f} µs CPU/request "
            f"(range {min(values):.1f}-{max(values):.1f})"
        )


if __name__ == "__main__":
    main()
