"""Fault soak: thousands of requests through switchpoint while a provider flaps.

Starts two fake OpenAI upstreams on loopback (`flaky`, the primary, and `steady`, its
fallback) and a switchpoint gateway in front of them, then sends requests (streamed and
not, through the official `openai` SDK) while `flaky` cycles through healthy, erroring
(503), slow (first token past the limit), cutting streams, stalling streams, resetting
connections and a random mix. Both upstreams answer the same text, so every answer can be
checked whole.

Reports the success rate, latency percentiles, attempts per request, continuations, the
breaker's transitions, and the two numbers that must be zero: requests that hung (no
answer within the client's limit) and answers that came back truncated yet looked complete.

    python bench/fault_soak.py [--requests 4000] [--concurrency 32] [--phase-s 1.5]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from switchpoint.config.loader import parse_config
from switchpoint.events import Listener
from switchpoint.execution.records import CallRecord
from switchpoint.server.background import BackgroundServer
from tests.fakes import (
    ConnectionReset,
    CutAfter,
    Fault,
    OpenAIFake,
    ServerError,
    ServiceUnavailable,
    SlowFirstToken,
    StallAfter,
)

ANSWER = (
    "A gateway earns trust only when the providers behind it misbehave: every request "
    "ends with a complete answer or a clear error, inside a bounded time."
)
# The client gives up after this long: a request still open then has hung.
CLIENT_LIMIT_S = 30.0

PHASES: list[tuple[str, Fault | None]] = [
    ("healthy", None),
    ("erroring", ServiceUnavailable()),
    ("healthy", None),
    ("slow", SlowFirstToken(2.0, stage="first_event")),
    ("cutting", CutAfter(events=4)),
    ("healthy", None),
    ("stalling", StallAfter(events=5)),
    ("resetting", ConnectionReset()),
    ("mixed", None),
]
MIXED: list[Fault | None] = [
    None,
    None,
    ServerError(),
    CutAfter(events=3),
    StallAfter(events=6),
    SlowFirstToken(2.0, stage="first_event"),
    ConnectionReset(),
]


class Tally(Listener):
    def __init__(self) -> None:
        self.moves: list[str] = []
        self.counters: Counter[str] = Counter()
        self.attempts: list[int] = []
        self.continued = 0

    def on_call(self, call: CallRecord) -> None:
        self.attempts.append(call.upstream_attempts)
        self.continued += call.continuations > 0

    def on_breaker(self, provider: str, model: str, old: str, new: str, reason: str) -> None:
        self.moves.append(f"{provider}/{model} {old}->{new}")

    def on_resilience(self, name: str, provider: str, model: str, reason: str, count: int) -> None:
        self.counters[f"{name}:{reason}" if reason else name] += count


@dataclass
class Outcome:
    kind: str  # complete | error | hung | truncated
    seconds: float
    attempts: int = 0
    stream: bool = False
    detail: str = ""


@dataclass
class Flapper:
    fake: OpenAIFake
    phase_s: float
    log: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        rng = random.Random(7)
        for name, fault in itertools.cycle(PHASES):
            self.log.append(name)
            self.fake.clear_mode()
            if fault is not None:
                self.fake.set_mode(fault)
            ends = time.monotonic() + self.phase_s
            while time.monotonic() < ends:
                if name == "mixed":
                    choice = rng.choice(MIXED)
                    if choice is not None and len(self.fake.pending_faults) < 4:
                        self.fake.enqueue(choice)
                if self._stop.wait(0.02):
                    self.fake.clear_mode()
                    self.fake.reset_faults()
                    return

    def stop(self) -> None:
        self._stop.set()


def config(flaky: OpenAIFake, steady: OpenAIFake) -> dict[str, Any]:
    limits = {
        "timeout_s": 8.0,
        "connect_timeout_s": 1.0,
        "first_token_timeout_s": 1.0,
        "stream_idle_timeout_s": 0.5,
    }
    return {
        "logging": {"access_log": False},
        "providers": {
            "flaky": {
                "type": "openai",
                "base_url": flaky.base_url,
                "api_key_env": "SOAK_KEY",
                **limits,
            },
            "steady": {
                "type": "openai",
                "base_url": steady.base_url,
                "api_key_env": "SOAK_KEY",
                **limits,
            },
        },
        "models": {
            "gpt-flaky": {
                "supports_prefill": True,
                "input_usd_per_mtok": 1,
                "output_usd_per_mtok": 2,
            },
            "gpt-steady": {
                "supports_prefill": True,
                "input_usd_per_mtok": 1,
                "output_usd_per_mtok": 2,
            },
        },
        "routing": {
            "default_profile": "main",
            "context": {"long_context_profile": None},
            "cost": {"budget_profile": None},
            "profiles": {
                "main": {
                    "model": "gpt-flaky",
                    "provider": "flaky",
                    "max_context": 100_000,
                    "cost_weight": 0.5,
                    "fallbacks": ["spare"],
                },
                "spare": {
                    "model": "gpt-steady",
                    "provider": "steady",
                    "max_context": 100_000,
                    "cost_weight": 0.5,
                },
            },
            "fallback": {
                "max_retries": 2,
                "backoff_base_s": 0.05,
                "backoff_max_s": 0.5,
                "request_deadline_s": 15.0,
                "circuit_breaker_threshold": 0.5,
                "circuit_breaker": {
                    "window_s": 5,
                    "min_requests": 20,
                    "open_s": 2.0,
                    "half_open_probes": 2,
                },
            },
        },
    }


async def one(api: openai.AsyncOpenAI, stream: bool) -> Outcome:
    started = time.perf_counter()
    messages = [{"role": "user", "content": "say the line"}]
    try:
        async with asyncio.timeout(CLIENT_LIMIT_S):
            if not stream:
                raw = await api.chat.completions.with_raw_response.create(
                    model="main",
                    messages=messages,  # type: ignore[arg-type]
                )
                completion = raw.parse()
                attempts = int(raw.headers.get("x-switchpoint-attempts", "0"))
                text = completion.choices[0].message.content or ""
                finish = completion.choices[0].finish_reason
            else:
                async with api.chat.completions.with_streaming_response.create(
                    model="main",
                    messages=messages,
                    stream=True,  # type: ignore[arg-type]
                ) as response:
                    attempts = int(response.headers.get("x-switchpoint-attempts", "0"))
                    text, finish = "", None
                    async for chunk in await response.parse():
                        for choice in chunk.choices:
                            text += choice.delta.content or ""
                            finish = choice.finish_reason or finish
    except TimeoutError:
        return Outcome("hung", time.perf_counter() - started, stream=stream)
    except openai.APIError as error:
        detail = type(error).__name__
        status = getattr(error, "status_code", None)
        return Outcome(
            "error", time.perf_counter() - started, stream=stream, detail=f"{detail} {status}"
        )
    seconds = time.perf_counter() - started
    if text == ANSWER and finish == "stop":
        return Outcome("complete", seconds, attempts, stream)
    return Outcome("truncated", seconds, attempts, stream, detail=repr(text[-40:]))


async def drive(base_url: str, total: int, concurrency: int, stream_share: float) -> list[Outcome]:
    api = openai.AsyncOpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=60)
    rng = random.Random(11)
    kinds = [rng.random() < stream_share for _ in range(total)]
    queue = iter(kinds)
    outcomes: list[Outcome] = []

    async def worker() -> None:
        for stream in queue:
            outcomes.append(await one(api, stream))
            done = len(outcomes)
            if done % 500 == 0:
                print(f"  {done}/{total} requests", flush=True)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await api.close()
    return outcomes


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--phase-s", type=float, default=1.5)
    parser.add_argument("--stream-share", type=float, default=0.7)
    args = parser.parse_args()

    with OpenAIFake() as flaky, OpenAIFake() as steady:
        for fake in (flaky, steady):
            fake.reply_text = ANSWER
            fake.stream_chunks = 10
            fake.chunk_gap = 0.005
            fake.prefill = "continue"
        server = BackgroundServer(
            parse_config(config(flaky, steady)), environ={"SOAK_KEY": flaky.api_key}
        )
        server.start()
        tally = Tally()
        assert server.gateway is not None
        server.gateway.bus.subscribe(tally)
        flapper = Flapper(flaky, args.phase_s)
        thread = threading.Thread(target=flapper.run, daemon=True)
        print(
            f"fault soak: {args.requests} requests, {args.concurrency} concurrent, "
            f"{args.stream_share:.0%} streamed, provider phase {args.phase_s:g}s"
        )
        started = time.perf_counter()
        thread.start()
        try:
            outcomes = asyncio.run(
                drive(f"{server.base_url}/v1", args.requests, args.concurrency, args.stream_share)
            )
        finally:
            flapper.stop()
            thread.join()
            server.stop()
        wall = time.perf_counter() - started
        flaky_requests, steady_requests = flaky.request_count(), steady.request_count()

    kinds = Counter(o.kind for o in outcomes)
    latencies = [o.seconds for o in outcomes]
    answered = [o for o in outcomes if o.kind == "complete"]
    attempts = [o.attempts for o in answered]
    print()
    print(f"wall time            {wall:.1f}s ({len(outcomes) / wall:.0f} requests/s)")
    print(f"provider phases      {len(flapper.log)} ({', '.join(dict.fromkeys(flapper.log))})")
    print(f"complete answers     {kinds['complete']} ({kinds['complete'] / len(outcomes):.2%})")
    print(f"clean errors         {kinds['error']}")
    for detail, count in Counter(o.detail for o in outcomes if o.kind == "error").most_common():
        print(f"    {detail}: {count}")
    print(f"HUNG                 {kinds['hung']}")
    print(f"TRUNCATED            {kinds['truncated']}")
    for outcome in [o for o in outcomes if o.kind == "truncated"][:5]:
        print(f"    {'stream' if outcome.stream else 'whole'} ...{outcome.detail}")
    print(
        f"latency              p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
        f"p90 {percentile(latencies, 0.9) * 1000:.0f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )
    if tally.attempts:
        print(
            f"attempts per request mean {statistics.mean(tally.attempts):.2f}, "
            f"max {max(tally.attempts)} (upstream attempts, from the call records); "
            f"headers said mean {statistics.mean(attempts or [0]):.2f}"
        )
    print(f"continued streams    {tally.continued}")
    print(f"upstream requests    flaky {flaky_requests}, steady {steady_requests}")
    print(f"breaker transitions  {len(tally.moves)}")
    for name, count in sorted(tally.counters.items()):
        print(f"    {name}: {count}")
    if kinds["hung"] or kinds["truncated"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
