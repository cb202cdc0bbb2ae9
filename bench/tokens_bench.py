"""Token counting and compression-planning costs, measured.

    python bench/tokens_bench.py            # full table (about a minute)
    python bench/tokens_bench.py --quick    # fewer repetitions

Every figure is the best of N runs (the least disturbed by other load), in CPU time of
the measuring thread (`time.thread_time`), i.e. what it costs one core; wall time is
shown beside it, which on a shared machine can be much larger. Each run counts a fresh
parse of the request body (`orjson.loads`), as ingress would hand it over, so no string
hash is cached from the previous run.

Cases, per request size (a 1 KB chat request; generated agent transcripts of about 100K,
600K and 1M o200k tokens, in the OpenAI wire shape):
  estimate cold   phase 1 only, empty piece cache (first sight of this history)
  estimate warm   phase 1 only, history seen before (an agent loop's next request)
  exact cold      boundary at the true count: BPE over every text, empty cache
  exact warm      the same with every text already counted (resent history)
  claude estimate the same request for claude-opus-4-7 (vendor ratio path)
and compression planning (ConversationSizer + plan_compression) and `compress` with an
instant fake summarizer, i.e. the gateway's own overhead, model time excluded.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from switchpoint.chat.request import ChatRequest  # noqa: E402
from switchpoint.context.compress import compress  # noqa: E402
from switchpoint.context.plan import PlanInputs, plan_compression  # noqa: E402
from switchpoint.context.summary_cache import InMemorySummaryCache  # noqa: E402
from switchpoint.tokens import bpe  # noqa: E402
from switchpoint.tokens.counter import TokenCounter  # noqa: E402
from switchpoint.tokens.sizing import ConversationSizer  # noqa: E402
from tests.data.transcripts import conversation, generate, openai_body  # noqa: E402

SMALL_BODY: dict[str, Any] = {
    "model": "gpt-5.4",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant. Answer briefly and precisely."},
        {
            "role": "user",
            "content": "Please review this function and tell me whether the retry loop can "
            "spin forever when the upstream keeps answering 429 with a Retry-After header "
            "of zero seconds; if it can, propose the smallest fix. "
            + "def fetch(url):\n    for attempt in range(5):\n        r = get(url)\n"
            "        if r.status != 429:\n            return r\n        sleep(r.retry_after)\n" * 6,
        },
    ],
}


def measure(
    fn: Callable[[], object], runs: int, setup: Callable[[], object] | None = None
) -> tuple[float, float]:
    """(best CPU seconds, median wall seconds) over `runs`."""
    cpu: list[float] = []
    wall: list[float] = []
    for _ in range(runs):
        if setup is not None:
            setup()
        c0, w0 = time.thread_time(), time.perf_counter()
        fn()
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
    return min(cpu), statistics.median(wall)


def timed(name: str, result: tuple[float, float]) -> Row:
    return (name, fmt(result[0]), fmt(result[1]))


def fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


Row = tuple[str, str, str]


def startup() -> list[Row]:
    code = (
        "import time; t = time.perf_counter();"
        "import switchpoint.tokens.counter, switchpoint.context.compress;"
        "a = time.perf_counter() - t;"
        "from switchpoint.tokens import bpe; t = time.perf_counter(); bpe.warm(('o200k_base',));"
        "b = time.perf_counter() - t; t = time.perf_counter(); bpe.warm(('cl100k_base',));"
        "print(a, b, time.perf_counter() - t)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    imp, o200k, cl100k = (float(x) for x in out)
    return [
        ("import switchpoint.tokens + context", "-", fmt(imp)),
        ("load + verify o200k_base (lazy, once)", "-", fmt(o200k)),
        ("load + verify cl100k_base (lazy, once)", "-", fmt(cl100k)),
    ]


class Instant:
    """A summarizer that answers at once: what is left is the gateway's own overhead."""

    async def summarize(self, prompt: str, max_tokens: int) -> str:
        return "summary " * (max_tokens // 4)


def bench_request(label: str, raw: bytes, runs: int, target: int | None) -> list[Row]:
    counter = TokenCounter()
    small = target is None
    reps = runs * 400 if small else runs
    holder: dict[str, ChatRequest] = {}

    def fresh() -> ChatRequest:
        return ChatRequest("openai_chat", orjson.loads(raw), stream=False)

    def prepare(clear: bool) -> Callable[[], object]:
        def setup() -> None:
            if clear:
                counter.cache.clear()
            holder["r"] = fresh()

        return setup

    truth = TokenCounter().count(fresh(), model="gpt-5.4", provider_type="openai", force_exact=True)
    estimated = counter.count(fresh(), model="gpt-5.4", provider_type="openai")
    messages = len(orjson.loads(raw)["messages"])
    rows: list[Row] = [
        (
            f"{label}: {len(raw) / 1e6:.2f} MB JSON, {messages} messages, {truth.tokens} o200k "
            f"tokens; estimate {estimated.tokens} "
            f"({(estimated.tokens - truth.tokens) / truth.tokens:+.1%}, "
            f"bound +-{estimated.error_bound / max(estimated.tokens, 1):.0%})",
            "",
            "",
        )
    ]
    cpu, wall = measure(lambda: orjson.loads(raw), reps)
    rows.append(("  (yardstick: orjson.loads of the body)", fmt(cpu), fmt(wall)))

    def estimate() -> object:
        return counter.count(holder["r"], model="gpt-5.4", provider_type="openai")

    def exact() -> object:
        return counter.count(
            holder["r"], model="gpt-5.4", provider_type="openai", boundaries=(truth.tokens,)
        )

    def claude() -> object:
        return counter.count(holder["r"], model="claude-opus-4-7", provider_type="anthropic")

    rows.append(timed("  estimate cold", measure(estimate, reps, prepare(True))))
    counter.count(fresh(), model="gpt-5.4", provider_type="openai")
    rows.append(timed("  estimate warm", measure(estimate, reps, prepare(False))))
    exact_reps = reps // 10 if small else max(1, runs // 2)
    rows.append(
        timed(
            "  exact cold (boundary at the count)",
            measure(exact, exact_reps, prepare(True)),
        )
    )
    counter.count(fresh(), model="gpt-5.4", provider_type="openai", force_exact=True)
    rows.append(timed("  exact warm (resent history)", measure(exact, exact_reps, prepare(False))))
    rows.append(timed("  claude estimate, warm", measure(claude, reps, prepare(False))))
    if small or target is None:
        return rows

    conv = conversation(generate(target, seed=42))
    budget = truth.tokens // 3

    def plan() -> object:
        sizer = ConversationSizer(TokenCounter(), conv, model="gpt-5.4", provider_type="openai")
        return plan_compression(conv, PlanInputs(budget=budget), sizer)

    def run_compress() -> object:
        sizer = ConversationSizer(TokenCounter(), conv, model="gpt-5.4", provider_type="openai")
        inputs = PlanInputs(budget=budget, chunk_tokens=100_000, summary_tokens=4_000)
        return asyncio.run(compress(conv, inputs, Instant(), InMemorySummaryCache(), sizer=sizer))

    rows.append(timed("  compression planning (sizes + plan)", measure(plan, runs)))
    # compress() sizes in a worker thread: its CPU is not this thread's, so wall only.
    _, wall = measure(run_compress, max(1, runs // 2))
    rows.append(("  compress, instant summarizer (overhead)", "(threads)", fmt(wall)))
    return rows


def main(quick: bool) -> None:
    runs = 3 if quick else 7
    rows: list[Row] = [*startup()]
    bpe.warm(("o200k_base",))
    rows += bench_request("1 KB request", orjson.dumps(SMALL_BODY), runs, None)
    for target in (100_000, 600_000, 1_000_000):
        raw = orjson.dumps(openai_body(generate(target, seed=42)))
        rows += bench_request(f"{target // 1000}K-token request", raw, runs, target)

    width = max(len(r[0]) for r in rows)
    print(f"{'case':{width}s}  {'CPU (best)':>12s}  {'wall (median)':>14s}")
    print("-" * (width + 31))
    for name, cpu_s, wall_s in rows:
        print(f"{name:{width}s}  {cpu_s:>12s}  {wall_s:>14s}")


if __name__ == "__main__":
    main("--quick" in sys.argv)
