"""Streaming: what a target adds to time to first token and to the gaps between chunks,
what each forwarded chunk costs it in CPU, and whether it holds thousands of slow streams.

Goals: TTFT added <= 0.4 ms p50 at 500 streams/s; inter-chunk gap added <= 0.1 ms p50;
CPU per forwarded chunk <= 40 us; 2,000 concurrent streams with chunks 100 ms apart held
without errors, p99 TTFT added <= 5 ms.

The upstream spaces chunks (2 ms) in the first scenario so that every chunk is forwarded
on its own, as with a real model: with no gap a whole stream arrives in one read, and
the CPU per chunk would flatter any proxy.
"""

from __future__ import annotations

import math
from functools import partial

from bench.figures import Goal
from bench.loadgen import OpenLoopSpec, run_open_loop
from bench.measurements.common import latency, num
from bench.session import Session

NAME = "streaming"
CHUNKS = 20


def run(session: Session) -> None:
    try:
        _fast_streams(session)
        _slow_streams(session)
    finally:
        session.configure_upstream()


def _fast_streams(session: Session) -> None:
    rate, gap_ms = 500, 2.0
    session.configure_upstream(chunks=CHUNKS, gap_ms=gap_ms)
    scenario = f"{rate} streams/s, {CHUNKS} chunks {gap_ms:g} ms apart"
    duration = session.duration(4.0, 15.0)
    for repeat in range(session.repeats):
        for target in session.rotated(repeat):
            spec = OpenLoopSpec(
                url=target.url, rate=rate, duration_s=duration,
                body_file=str(session.body_file(target, stream=True)),
                headers=target.headers, stream=True, content_events=CHUNKS, warmup_s=1.0,
            )
            m = session.measure(f"streaming {rate}/s #{repeat + 1}", target,
                                partial(run_open_loop, spec, session.load_cpus))
            res = m.result
            rec = partial(session.figures.record, NAME, scenario, target=target.name,
                          repeat=repeat)
            rec(metric="TTFT p50 ms", value=latency(res, "ttft_ms", "p50"), unit="ms",
                additive=True, goals=[Goal("added", "<=", 0.4)])
            rec(metric="TTFT p99 ms", value=latency(res, "ttft_ms", "p99"), unit="ms",
                additive=True)
            rec(metric="gap p50 ms", value=latency(res, "gap_ms", "p50"), unit="ms",
                additive=True, goals=[Goal("added", "<=", 0.1)])
            rec(metric="gap p99 ms", value=latency(res, "gap_ms", "p99"), unit="ms",
                additive=True)
            rec(metric="errors", value=num(res, "error_count"), unit="count")
            events = num(res, "events_per_stream") * num(res, "sent")
            if events:
                rec(metric="CPU/chunk us", value=m.target_cpu_s * 1e6 / events, unit="us",
                    goals=[Goal("value", "<=", 40)])
            session.settle()


def _slow_streams(session: Session) -> None:
    concurrency = 500 if session.quick else 2000
    gap_ms = 100.0
    session.configure_upstream(chunks=CHUNKS, gap_ms=gap_ms)
    stream_s = (CHUNKS - 1) * gap_ms / 1000
    rate = concurrency / stream_s
    scenario = f"{concurrency} concurrent streams, chunks {gap_ms:g} ms apart"
    duration = session.duration(4.0, 10.0)
    for repeat in range(session.repeats):
        for target in session.rotated(repeat):
            spec = OpenLoopSpec(
                url=target.url, rate=rate, duration_s=duration,
                body_file=str(session.body_file(target, stream=True)),
                headers=target.headers, stream=True, content_events=CHUNKS,
                # Ramp-up: the first stream_s seconds build up to full concurrency.
                warmup_s=stream_s, initial_conns=math.ceil(concurrency * 1.1),
                max_conns=concurrency * 3, drain_s=stream_s + 20,
                max_backlog=concurrency * 2,
            )
            m = session.measure(f"slow streams x{concurrency} #{repeat + 1}", target,
                                partial(run_open_loop, spec, session.load_cpus))
            res = m.result
            rec = partial(session.figures.record, NAME, scenario, target=target.name,
                          repeat=repeat)
            rec(metric="errors", value=num(res, "error_count"), unit="count",
                goals=[Goal("value", "<=", 0)])
            rec(metric="TTFT p50 ms", value=latency(res, "ttft_ms", "p50"), unit="ms",
                additive=True)
            rec(metric="TTFT p99 ms", value=latency(res, "ttft_ms", "p99"), unit="ms",
                additive=True, goals=[Goal("added", "<=", 5)])
            rec(metric="streams in flight (max)", value=num(res, "max_in_flight"),
                unit="count", better="higher")
            session.settle(1.0)
