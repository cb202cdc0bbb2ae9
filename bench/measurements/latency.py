"""Added latency at a fixed arrival rate, non-streaming, zero-latency upstream.

Goals (system minus direct, same run): at 500 req/s p50 <= 0.3 ms and p99 <= 1.5 ms; at
10 req/s p50 <= 0.5 ms and p99 <= 2 ms (the performance issue); at 200 req/s p50 < 1 ms
and p99 < 5 ms (the gateway core's first target). The low rate matters as much as the high one: an
idle server pays for cold caches and wake-ups on every request.
"""

from __future__ import annotations

from functools import partial

from bench.figures import Goal
from bench.loadgen import OpenLoopSpec, run_open_loop
from bench.measurements.common import latency, num
from bench.session import Session

NAME = "latency"
# rate, p50 goal, p99 goal (ms, added)
RATES: tuple[tuple[int, float, float], ...] = ((500, 0.3, 1.5), (200, 1.0, 5.0), (10, 0.5, 2.0))


def run(session: Session) -> None:
    session.configure_upstream()
    for rate, goal_p50, goal_p99 in RATES:
        scenario = f"{rate} req/s, plain"
        high = rate >= 100
        duration = session.duration(4.0 if high else 10.0, 20.0 if high else 60.0)
        for repeat in range(session.repeats):
            for target in session.rotated(repeat):
                spec = OpenLoopSpec(
                    url=target.url, rate=rate, duration_s=duration,
                    body_file=str(session.body_file(target)), headers=target.headers,
                    warmup_s=1.0,
                )
                m = session.measure(f"latency {rate}/s #{repeat + 1}", target,
                                    partial(run_open_loop, spec, session.load_cpus))
                res = m.result
                rec = partial(session.figures.record, NAME, scenario, target=target.name,
                              repeat=repeat)
                rec(metric="p50 ms", value=latency(res, "latency_ms", "p50"), unit="ms",
                    additive=True, goals=[Goal("added", "<=", goal_p50)])
                rec(metric="p99 ms", value=latency(res, "latency_ms", "p99"), unit="ms",
                    additive=True, goals=[Goal("added", "<=", goal_p99)])
                rec(metric="p99.9 ms", value=latency(res, "latency_ms", "p99.9"), unit="ms",
                    additive=True)
                rec(metric="max ms", value=latency(res, "latency_ms", "max"), unit="ms",
                    additive=True)
                rec(metric="service p50 ms", value=latency(res, "service_ms", "p50"), unit="ms",
                    additive=True)
                rec(metric="errors", value=num(res, "error_count"), unit="count")
                rec(metric="loadgen send lag p99 ms", value=num(res, "send_lag_ms", "p99"),
                    unit="ms")
                sent = num(res, "sent")
                if sent:
                    rec(metric="CPU/req ms", value=m.target_cpu_s * 1000 / sent, unit="ms")
                session.settle()
