"""Added latency by request size: 1 KB, 100 KB, 1 MB and 4 MB bodies of chat messages
(4 MB is about a million tokens), at a fixed low rate so the size, not queueing, shows."""

from __future__ import annotations

from functools import partial

from bench.loadgen import OpenLoopSpec, run_open_loop
from bench.measurements.common import latency, num
from bench.payloads import SIZES
from bench.session import Session

NAME = "size"
RATE = 20


def run(session: Session) -> None:
    session.configure_upstream()
    duration = session.duration(3.0, 15.0)
    for label, size in SIZES.items():
        scenario = f"{label} body, {RATE} req/s"
        for repeat in range(session.repeats):
            for target in session.rotated(repeat):
                spec = OpenLoopSpec(
                    url=target.url, rate=RATE, duration_s=duration,
                    body_file=str(session.body_file(target, size=size)),
                    headers=target.headers, warmup_s=0.5, drain_s=30,
                    # Each waiting request holds up to a whole body in a send buffer.
                    max_backlog=40,
                )
                m = session.measure(f"size {label} #{repeat + 1}", target,
                                    partial(run_open_loop, spec, session.load_cpus))
                res = m.result
                rec = partial(session.figures.record, NAME, scenario, target=target.name,
                              repeat=repeat)
                rec(metric="p50 ms", value=latency(res, "latency_ms", "p50"), unit="ms",
                    additive=True)
                rec(metric="p99 ms", value=latency(res, "latency_ms", "p99"), unit="ms",
                    additive=True)
                rec(metric="errors", value=num(res, "error_count"), unit="count")
                sent = num(res, "sent")
                if sent:
                    rec(metric="CPU/req ms", value=m.target_cpu_s * 1000 / sent, unit="ms")
                session.settle()
