"""Ledger benchmark (standalone): write throughput, request-path cost, latency on vs off.

    python bench/ledger_bench.py [--records 50000] [--seconds 4] [--rounds 3]
                                 [--rate 600] [--postgres URL] [--json out.json]

1. Throughput: `--records` finished calls are submitted to a `LedgerWriter` on a fresh
   SQLite file (and PostgreSQL with `--postgres`); records/s is measured from the first
   submit until the last one is committed. Also reported: what `submit()` costs the
   request path (ns per call), and a paced run at 5,000 records/s showing the queue
   stays bounded.
2. Latency: three `switchpoint serve` processes run at once against a zero-latency
   simulated provider, one with the ledger on and two with it off, and an open-loop
   client sends requests at a fixed rate, taking them in turn, so whatever else the
   machine is doing hits all three alike. Reported: p50/p95/p99 per gateway and round,
   the on-minus-off difference of p50s, and the off-minus-off difference (the noise
   floor a real difference must stand out of).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from switchpoint.chat.usage import Usage  # noqa: E402
from switchpoint.execution.records import AttemptRecord, CallRecord  # noqa: E402
from switchpoint.ledger.database import Database  # noqa: E402
from switchpoint.ledger.url import parse_ledger_url  # noqa: E402
from switchpoint.ledger.writer import LedgerWriter  # noqa: E402
from switchpoint.routing.decision import RoutingDecision  # noqa: E402

BODY = json.dumps({"model": "auto", "messages": [{"role": "user", "content": "hello"}]}).encode()


# --- records ---------------------------------------------------------------------------
def make_call(index: int) -> CallRecord:
    """A typical finished call: a task, a key, one attempt (every 10th: a retry too)."""
    now_wall, now = time.time(), time.perf_counter()
    decision = RoutingDecision(
        profile="terminal_agent", model="gpt-5.5", provider="openai",
        requested_profile="terminal_agent", effective_max_tokens=4000,
        fallback_triggered=False, routing_rationale="", rules=[],
        chain=["terminal_agent", "cost_sensitive"],
    )  # fmt: skip
    call = CallRecord(
        request_id=f"bench-{index:09d}", protocol="openai", stream=index % 2 == 0,
        started_wall=now_wall, started_at=now, workload="terminal_agent",
        task_id=f"task-{index // 20}", key_id=f"key-{index % 50}", team=f"team-{index % 5}",
        decision=decision,
    )  # fmt: skip
    if index % 10 == 0:
        failed = AttemptRecord("terminal_agent", "openai", "gpt-5.5", "first", now)
        failed.outcome, failed.status, failed.error = "server_error", 500, "upstream 500"
        call.attempts.append(failed)
    served = AttemptRecord(
        "terminal_agent", "openai", "gpt-5.5", "retry" if index % 10 == 0 else "first", now,
        duration_s=0.8, ttft_s=0.2,
        usage=Usage(input_tokens=3000, output_tokens=400, cached_input_tokens=1000),
        cost_usd=0.0214,
    )  # fmt: skip
    call.attempts.append(served)
    call.served = served
    call.duration_s, call.ttft_s, call.context_tokens = 0.85, 0.21, 3000
    return call


def throughput(url: str, records: int) -> dict[str, Any]:
    calls = [make_call(i) for i in range(records)]
    writer = LedgerWriter(Database(parse_ledger_url(url)), flush_interval_s=0.5, max_queue=10**7)
    writer.start()
    writer.flush_sync(10)  # schema created, connection open
    started = time.perf_counter()
    submit = writer.submit
    for call in calls:
        submit(call)
    submitted = time.perf_counter()
    assert writer.flush_sync(600), "the writer did not finish"
    finished = time.perf_counter()
    writer.close()
    assert writer.written_total == records and writer.dropped_total == 0
    return {
        "records": records,
        "seconds": round(finished - started, 3),
        "records_per_s": round(records / (finished - started)),
        "submit_ns_per_call": round((submitted - started) / records * 1e9),
        "batches": writer.batches_total,
    }


def paced(url: str, rate: int, seconds: float) -> dict[str, Any]:
    """Submit at a steady `rate` for `seconds`: the queue must stay small."""
    writer = LedgerWriter(Database(parse_ledger_url(url)), flush_interval_s=0.5)
    writer.start()
    writer.flush_sync(10)
    deepest = 0
    total = int(rate * seconds)
    started = time.perf_counter()
    for index in range(total):
        due = started + index / rate
        delay = due - time.perf_counter()
        if delay > 0.001:
            time.sleep(delay)
        writer.submit(make_call(index))
        deepest = max(deepest, writer.queue_depth)
    assert writer.flush_sync(60)
    lag = time.perf_counter() - (started + seconds)
    writer.close()
    return {
        "rate_per_s": rate,
        "seconds": seconds,
        "max_queue_depth": deepest,
        "drained_s_after_last_submit": round(max(0.0, lag), 3),
        "dropped": writer.dropped_total,
    }


@contextlib.contextmanager
def scratch_schema(url: str) -> Iterator[str]:
    import psycopg

    schema = f"sp_bench_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


# --- latency, ledger on vs off ---------------------------------------------------------------
def config_text(ledger: bool, db: Path) -> str:
    document = {
            "server": {"host": "127.0.0.1", "port": 0},
            "providers": {
                "sim": {
                    "type": "simulated",
                    "simulation": {"latency_ms": 0, "chunk_delay_ms": 0, "output_tokens": 20},
                }
            },
            "models": {"sim-model": {"input_usd_per_mtok": 1.0, "output_usd_per_mtok": 2.0}},
            "routing": {
                "default_profile": "only",
                "profiles": {
                    "only": {
                        "model": "sim-model",
                        "provider": "sim",
                        "max_context": 100_000,
                        "cost_weight": 1.0,
                    },
                },
            },
            "ledger": {"enabled": ledger, "url": f"sqlite:///{db}"},
            # Info: the start-up line says where it listens; nothing is logged per call.
            "logging": {"level": "info", "access_log": False},
        }  # fmt: skip
    return json.dumps(document)


@contextlib.contextmanager
def gateway(ledger: bool, workdir: Path) -> Iterator[tuple[str, int]]:
    config = workdir / f"ledger-{'on' if ledger else 'off'}.yaml"
    config.write_text(config_text(ledger, workdir / "bench-ledger.db"))
    process = subprocess.Popen(
        [sys.executable, "-m", "switchpoint", "serve", "--config", str(config)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    address: list[tuple[str, int]] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            with contextlib.suppress(ValueError):
                message = json.loads(line).get("message", "")
                if message.startswith("switchpoint listening on http://"):
                    host, port = message.split()[3].removeprefix("http://").split(":")
                    address.append((host, int(port)))
                    ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        if not ready.wait(60):
            raise RuntimeError("the gateway did not start")
        yield address[0]
    finally:
        process.terminate()
        process.wait(60)


class Target:
    """One gateway, with a pool of idle keep-alive connections."""

    def __init__(self, name: str, host: str, port: int) -> None:
        self.name, self.host, self.port = name, host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.samples: list[float] = []

    async def call(self, record: bool) -> None:
        if self.idle:
            reader, writer = self.idle.pop()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        sent = time.perf_counter()
        writer.write(REQUEST)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        done = time.perf_counter()
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.decode(errors="replace"))
        self.idle.append((reader, writer))
        if record:
            self.samples.append(done - sent)

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


REQUEST = (
    b"POST /v1/chat/completions HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\n"
    + f"content-length: {len(BODY)}\r\n\r\n".encode()
    + BODY
)


async def open_loop(targets: list[Target], rate: float, seconds: float, warmup_s: float) -> None:
    """Requests at a fixed total rate, taking the targets in turn: every target sees the
    same load at the same moments, so noise from the rest of the machine hits all alike."""
    tasks: set[asyncio.Task[None]] = set()
    started = time.perf_counter()
    total = int(rate * (seconds + warmup_s))
    for index in range(total):
        due = started + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        target = targets[index % len(targets)]
        task = asyncio.create_task(target.call(record=index / rate >= warmup_s))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    for target in targets:
        target.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def latency(rounds: int, rate: float, seconds: float) -> dict[str, Any]:
    """Three gateways at once: ledger on, and two with it off (their difference is the
    noise floor the on/off difference is judged against)."""
    summary: dict[str, Any] = {"rate_per_s": rate, "seconds_per_round": seconds, "rounds": []}
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        targets = []
        for name, ledger in (("on", True), ("off_a", False), ("off_b", False)):
            (workdir / name).mkdir()
            host, port = stack.enter_context(gateway(ledger, workdir / name))
            targets.append(Target(name, host, port))
        for _ in range(rounds):
            for target in targets:
                target.samples = []
            asyncio.run(open_loop(targets, rate, seconds, warmup_s=1.0))
            summary["rounds"].append(
                {
                    target.name: {
                        "requests": len(target.samples),
                        "p50_ms": round(percentile(target.samples, 0.50) * 1000, 4),
                        "p95_ms": round(percentile(target.samples, 0.95) * 1000, 4),
                        "p99_ms": round(percentile(target.samples, 0.99) * 1000, 4),
                    }
                    for target in targets
                }
            )
    for name in ("on", "off_a", "off_b"):
        summary[f"p50_ms_{name}"] = round(
            statistics.median(r[name]["p50_ms"] for r in summary["rounds"]), 4
        )
    off = statistics.mean([summary["p50_ms_off_a"], summary["p50_ms_off_b"]])
    summary["p50_ms_on_minus_off"] = round(summary["p50_ms_on"] - off, 4)
    summary["p50_ms_noise_off_a_minus_off_b"] = round(
        summary["p50_ms_off_a"] - summary["p50_ms_off_b"], 4
    )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=600.0, help="requests/s, all gateways")
    parser.add_argument("--postgres", help="also measure PostgreSQL at this URL (a scratch schema)")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    results: dict[str, Any] = {"cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_url = f"sqlite:///{Path(tmp) / 'throughput.db'}"
        results["sqlite_throughput"] = throughput(sqlite_url, args.records)
        print("sqlite throughput:", results["sqlite_throughput"], flush=True)
        results["sqlite_paced_5000_per_s"] = paced(f"sqlite:///{Path(tmp) / 'paced.db'}", 5000, 5)
        print("sqlite paced:", results["sqlite_paced_5000_per_s"], flush=True)
    if args.postgres:
        with scratch_schema(args.postgres) as url:
            results["postgresql_throughput"] = throughput(url, args.records)
        print("postgresql throughput:", results["postgresql_throughput"], flush=True)
    if not args.skip_latency:
        results["latency"] = latency(args.rounds, args.rate, args.seconds)
        print("latency:", json.dumps(results["latency"], indent=2), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
