"""Load generators: open loop at a fixed arrival rate (latency), closed loop (throughput).

Open loop, without coordinated omission: request i is due at `start + i / rate`, whatever
happened to earlier requests, and its latency is measured from that intended time, not
from when it was actually written. A slow response therefore cannot hide the queueing it
causes (as a client that waits before sending its next request would). Each request takes
an idle keep-alive connection; when none is idle a new one is opened (up to
`max_conns`), so a slow response never delays a later send. Send lag (actual - intended)
is reported separately: if it grows, the generator itself could not keep up.

Timers in uvloop and epoll have millisecond resolution: sent on them, a request left
0.1 to 0.4 ms late at 500/s, and how late depended on where the target's answers fell
against the millisecond ticks, so it differed between targets and runs by more than the
differences measured. So each send waits on a `timerfd` (`precise_timer.py`), which
wakes the loop at the intended nanosecond (~30 µs late on the VM measured, the same for
every target) without spinning; at low rates the scheduler also wakes `spin_us` early
and spins to it.

Closed loop: wrk (see bench/wrk.py), or, where wrk is missing, `closed_loop` here:
N connections each sending the next request as soon as the previous one completes.

Each generator runs as its own process pinned to the load CPU:
  python -m bench.loadgen open   --url U --rate R --duration S --body-file F [--stream ...]
  python -m bench.loadgen closed --url U --connections C --duration S --body-file F
and prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import resource
import subprocess
import sys
from collections import deque
from dataclasses import asdict, dataclass, field
from time import perf_counter_ns
from urllib.parse import urlsplit

import uvloop

from bench.client_conn import ClientConnection, Exchange, build_request
from bench.precise_timer import PreciseTimer
from bench.stats import summarize

_NS_PER_MS = 1_000_000


@dataclass(slots=True)
class OpenLoopSpec:
    url: str
    rate: float
    duration_s: float
    body_file: str
    warmup_s: float = 1.0
    headers: dict[str, str] = field(default_factory=dict)
    stream: bool = False
    # Content events per stream (inter-chunk gaps are taken between these only, not the
    # usage chunk and [DONE] that follow the last one at once).
    content_events: int = 20
    max_conns: int = 4096
    initial_conns: int = 0  # 0: enough for 20 ms of arrivals, at least 8
    spin_us: int = -1  # -1: 1000 at rates up to 100/s, else 0
    drain_s: float = 15.0
    # Requests in flight beyond which the target is declared overloaded and the run
    # stops sending (0: half a second of arrivals, at least 200). Past that point the
    # latency only measures how long the queue has grown, and a server left with a deep
    # backlog keeps its core busy long after the run, disturbing the next one.
    max_backlog: int = 0


@dataclass(slots=True)
class ClosedLoopSpec:
    url: str
    connections: int
    duration_s: float
    body_file: str
    headers: dict[str, str] = field(default_factory=dict)
    stream: bool = False


def _target(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"


def _ms(values_ns: list[int]) -> dict[str, float]:
    return summarize(v / _NS_PER_MS for v in values_ns)


def _self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class OpenLoop:
    def __init__(self, spec: OpenLoopSpec) -> None:
        self.spec = spec
        self.host, self.port, path = _target(spec.url)
        with open(spec.body_file, "rb") as f:
            body = f.read()
        self.request = build_request(self.host, self.port, path, body, spec.headers)
        self.loop = asyncio.get_running_loop()
        self.idle: list[ClientConnection] = []
        self.waiting: deque[Exchange] = deque()
        self.conns = 0
        self.opening = 0
        self.opened = 0
        self.connect_errors = 0
        self.sent = 0
        self.finished = 0
        self.max_in_flight = 0
        self.results: list[Exchange] = []
        self.all_done = asyncio.Event()
        self.scheduling = True
        self.overloaded_at = -1

    # connections
    def _open(self) -> None:
        self.opening += 1
        self.loop.create_task(self._connect())

    async def _connect(self) -> None:
        try:
            _, conn = await self.loop.create_connection(
                lambda: ClientConnection(self._on_finish, self.spec.stream), self.host, self.port
            )
        except OSError:
            self.opening -= 1
            self.connect_errors += 1
            if self.waiting:
                ex = self.waiting.popleft()
                ex.error = "connect failed"
                ex.done_ns = perf_counter_ns()
                self._record(ex)
            return
        self.opening -= 1
        self.conns += 1
        self.opened += 1
        self._give(conn)

    def _give(self, conn: ClientConnection) -> None:
        if self.waiting:
            conn.send(self.waiting.popleft(), self.request)
        else:
            self.idle.append(conn)

    async def preopen(self, count: int) -> None:
        for start in range(0, count, 200):
            batch = [self._connect_now() for _ in range(min(200, count - start))]
            await asyncio.gather(*batch)

    async def _connect_now(self) -> None:
        self.opening += 1
        await self._connect()

    # requests
    def _dispatch(self, intended_ns: int) -> None:
        ex = Exchange(intended_ns)
        self.sent += 1
        in_flight = self.sent - self.finished
        if in_flight > self.max_in_flight:
            self.max_in_flight = in_flight
        if self.idle:
            self.idle.pop().send(ex, self.request)
            return
        self.waiting.append(ex)
        if self.conns + self.opening < self.spec.max_conns:
            self._open()

    def _on_finish(self, conn: ClientConnection, ex: Exchange) -> None:
        self._record(ex)
        if conn.closed:
            self.conns -= 1
            if self.waiting and self.conns + self.opening < self.spec.max_conns:
                self._open()
        else:
            self._give(conn)

    def _record(self, ex: Exchange) -> None:
        self.finished += 1
        self.results.append(ex)
        if not self.scheduling and self.finished >= self.sent:
            self.all_done.set()

    async def run(self) -> dict[str, object]:
        spec = self.spec
        interval_ns = int(1e9 / spec.rate)
        count = max(1, int(spec.rate * (spec.duration_s + spec.warmup_s)))
        spin_us = spec.spin_us if spec.spin_us >= 0 else (1000 if spec.rate <= 100 else 0)
        spin_ns = spin_us * 1000
        initial = spec.initial_conns or max(8, math.ceil(spec.rate * 0.02))
        await self.preopen(min(initial, spec.max_conns))
        cpu0 = _self_cpu_s()
        start_ns = perf_counter_ns() + 5 * _NS_PER_MS
        measure_from = start_ns + int(spec.warmup_s * 1e9)
        backlog = spec.max_backlog or max(200, math.ceil(spec.rate * 0.5))
        self.overloaded_at = -1
        timer = PreciseTimer(self.loop)
        for i in range(count):
            intended = start_ns + i * interval_ns
            await timer.until(intended - spin_ns)
            if spin_ns:
                while perf_counter_ns() < intended:
                    pass
            if self.sent - self.finished >= backlog:
                self.overloaded_at = i
                break
            self._dispatch(intended)
        timer.close()
        self.scheduling = False
        if self.finished < self.sent:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.all_done.wait(), spec.drain_s)
        wall_s = (perf_counter_ns() - start_ns) / 1e9
        return self._report(measure_from, count, wall_s, _self_cpu_s() - cpu0)

    def _report(
        self, measure_from: int, count: int, wall_s: float, cpu_s: float
    ) -> dict[str, object]:
        spec = self.spec
        measured = [ex for ex in self.results if ex.intended_ns >= measure_from]
        interval_ns = int(1e9 / spec.rate)
        expected = count - min(count, math.ceil(spec.warmup_s * 1e9 / interval_ns))
        ok = [ex for ex in measured if ex.error is None and ex.status == 200
              and (not spec.stream or ex.done)]
        errors: dict[str, int] = {}
        for ex in measured:
            if ex.error is not None:
                key = ex.error
            elif ex.status != 200:
                key = f"status {ex.status}"
            elif spec.stream and not ex.done:
                key = "stream without [DONE]"
            else:
                continue
            errors[key] = errors.get(key, 0) + 1
        overloaded = self.overloaded_at >= 0
        unfinished = expected - len(measured)
        if unfinished > 0:
            key = ("not sent: target overloaded" if overloaded
                   else "no response before drain timeout")
            errors[key] = unfinished
        report: dict[str, object] = {
            "mode": "open",
            "rate": spec.rate,
            "duration_s": spec.duration_s,
            "sent": self.sent,
            "measured": expected,
            "ok": len(ok),
            "errors": errors,
            "error_count": sum(errors.values()),
            # Set when the target fell so far behind that the run was cut short: its
            # latency figures are then meaningless (unbounded), not merely high.
            "overloaded": overloaded,
            "overloaded_after_s": (self.overloaded_at / spec.rate) if overloaded else None,
            "latency_ms": _ms([ex.done_ns - ex.intended_ns for ex in ok]),
            "service_ms": _ms([ex.done_ns - ex.sent_ns for ex in ok]),
            "send_lag_ms": _ms([ex.sent_ns - ex.intended_ns for ex in measured if ex.sent_ns]),
            "connections_opened": self.opened,
            "max_in_flight": self.max_in_flight,
            "loadgen_cpu_s": cpu_s,
            "loadgen_wall_s": wall_s,
        }
        if spec.stream:
            # Time to the first SSE event, not the first body byte: a server that sends an
            # early comment or keep-alive line must not look faster than it is.
            first = [ex.event_times[0] if ex.event_times else ex.first_byte_ns for ex in ok]
            report["ttft_ms"] = _ms([t - ex.intended_ns for t, ex in zip(first, ok, strict=True)])
            report["ttft_service_ms"] = _ms(
                [t - ex.sent_ns for t, ex in zip(first, ok, strict=True)]
            )
            gaps: list[int] = []
            events = 0
            for ex in ok:
                times = ex.event_times or []
                events += ex.events
                last = min(len(times), spec.content_events)
                gaps.extend(times[i] - times[i - 1] for i in range(1, last))
            report["gap_ms"] = _ms(gaps)
            report["events"] = events
            report["events_per_stream"] = events / len(ok) if ok else 0.0
        return report


class ClosedLoop:
    """N connections, each sending its next request when the previous one completes."""

    def __init__(self, spec: ClosedLoopSpec) -> None:
        self.spec = spec
        self.host, self.port, path = _target(spec.url)
        with open(spec.body_file, "rb") as f:
            body = f.read()
        self.request = build_request(self.host, self.port, path, body, spec.headers)
        self.loop = asyncio.get_running_loop()
        self.ok = 0
        self.errors = 0
        self.latencies: list[int] = []
        self.deadline = 0
        self.waiters: dict[ClientConnection, asyncio.Future[Exchange]] = {}

    def _on_finish(self, conn: ClientConnection, ex: Exchange) -> None:
        fut = self.waiters.pop(conn, None)
        if fut is not None and not fut.done():
            fut.set_result(ex)

    async def _worker(self) -> None:
        spec = self.spec
        conn: ClientConnection | None = None
        while perf_counter_ns() < self.deadline:
            if conn is None or conn.closed:
                try:
                    _, conn = await self.loop.create_connection(
                        lambda: ClientConnection(self._on_finish, spec.stream),
                        self.host, self.port,
                    )
                except OSError:
                    self.errors += 1
                    await asyncio.sleep(0.01)
                    continue
            fut: asyncio.Future[Exchange] = self.loop.create_future()
            self.waiters[conn] = fut
            ex = Exchange(perf_counter_ns())
            conn.send(ex, self.request)
            await fut
            if ex.error is None and ex.status == 200 and (not spec.stream or ex.done):
                self.ok += 1
                self.latencies.append(ex.done_ns - ex.sent_ns)
            else:
                self.errors += 1
        if conn is not None and conn.transport is not None:
            conn.transport.close()

    async def run(self) -> dict[str, object]:
        cpu0 = _self_cpu_s()
        start = perf_counter_ns()
        self.deadline = start + int(self.spec.duration_s * 1e9)
        await asyncio.gather(*(self._worker() for _ in range(self.spec.connections)))
        wall_s = (perf_counter_ns() - start) / 1e9
        return {
            "mode": "closed",
            "connections": self.spec.connections,
            "requests": self.ok,
            "errors": self.errors,
            "duration_s": wall_s,
            "rps": self.ok / wall_s if wall_s else 0.0,
            "latency_ms": _ms(self.latencies),
            "loadgen_cpu_s": _self_cpu_s() - cpu0,
        }


async def _open_main(spec: OpenLoopSpec) -> dict[str, object]:
    return await OpenLoop(spec).run()


async def _closed_main(spec: ClosedLoopSpec) -> dict[str, object]:
    return await ClosedLoop(spec).run()


# Running a generator in its own pinned process, from the orchestrator.

def _spawn(mode: str, spec: OpenLoopSpec | ClosedLoopSpec, cpus: set[int] | None,
           timeout_s: float) -> dict[str, object]:
    cmd = [sys.executable, "-m", "bench.loadgen", mode, "--spec", json.dumps(asdict(spec))]
    if cpus:
        cmd += ["--cpu", ",".join(str(c) for c in sorted(cpus))]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"loadgen {mode} failed: {proc.stderr.strip()[-2000:]}")
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def run_open_loop(spec: OpenLoopSpec, cpus: set[int] | None = None) -> dict[str, object]:
    timeout = spec.duration_s + spec.warmup_s + spec.drain_s + 120
    return _spawn("open", spec, cpus, timeout)


def run_closed_loop(spec: ClosedLoopSpec, cpus: set[int] | None = None) -> dict[str, object]:
    return _spawn("closed", spec, cpus, spec.duration_s + 120)


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _headers(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        name, _, value = item.partition(":")
        out[name.strip()] = value.strip()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="open- and closed-loop HTTP load generator")
    parser.add_argument("mode", choices=["open", "closed"])
    parser.add_argument("--spec", help="the whole spec as JSON (used by bench.run)")
    parser.add_argument("--url")
    parser.add_argument("--body-file")
    parser.add_argument("--header", action="append", default=[], help="Name: value")
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--content-events", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--cpu", help="CPU list to pin to, e.g. 0")
    args = parser.parse_args()
    if args.cpu:
        os.sched_setaffinity(0, {int(c) for c in args.cpu.split(",")})
    _raise_fd_limit()
    if args.mode == "open":
        if args.spec:
            open_spec = OpenLoopSpec(**json.loads(args.spec))
        else:
            open_spec = OpenLoopSpec(
                url=args.url, rate=args.rate, duration_s=args.duration,
                body_file=args.body_file, warmup_s=args.warmup,
                headers=_headers(args.header), stream=args.stream,
                content_events=args.content_events,
            )
        result = uvloop.run(_open_main(open_spec))
    else:
        if args.spec:
            closed_spec = ClosedLoopSpec(**json.loads(args.spec))
        else:
            closed_spec = ClosedLoopSpec(
                url=args.url, connections=args.connections, duration_s=args.duration,
                body_file=args.body_file, headers=_headers(args.header), stream=args.stream,
            )
        result = uvloop.run(_closed_main(closed_spec))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
