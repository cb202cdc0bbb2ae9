"""Closed-loop throughput at 32 and 128 connections, plain and streamed (20 chunks, no
gap), with the target's CPU time per request read from /proc during the run.

Goals: >= 5,000 req/s plain and >= 4,000 streams/s; >= 2x the aiohttp proxy and >= 100x
LiteLLM in the same run; <= 0.2 ms of CPU per request.
"""

from __future__ import annotations

from functools import partial

from bench.figures import Goal
from bench.measurements.common import closed_loop, num
from bench.session import Session

NAME = "throughput"
CONNECTIONS = (32, 128)
# A target within this share of direct's figure may be limited by the load side
# (wrk + fake upstream on one core), not by itself.
CEILING_SHARE = 0.8


def run(session: Session) -> None:
    session.configure_upstream(chunks=20, gap_ms=0)
    duration = session.duration(3.0, 10.0)
    for stream in (False, True):
        for connections in CONNECTIONS:
            kind = "streams (20 chunks)" if stream else "plain"
            scenario = f"{kind}, {connections} conns"
            unit = "streams/s" if stream else "req/s"
            goals = [
                Goal("value", ">=", 4000 if stream else 5000),
                Goal("ratio:aiohttp_proxy", ">=", 2),
                Goal("ratio:litellm", ">=", 100),
            ]
            for repeat in range(session.repeats):
                for target in session.rotated(repeat):
                    m = session.measure(
                        f"throughput {scenario} #{repeat + 1}", target,
                        partial(closed_loop, session, target, connections=connections,
                                duration_s=duration, stream=stream),
                    )
                    res = m.result
                    rec = partial(session.figures.record, NAME, scenario, target=target.name,
                                  repeat=repeat)
                    rate = num(res, "rps")
                    fig = rec(metric=unit, value=rate, unit=unit, better="higher",
                              goals=goals)
                    requests = num(res, "requests")
                    if requests:
                        rec(metric="CPU/req ms", value=m.target_cpu_s * 1000 / requests,
                            unit="ms", goals=[Goal("value", "<=", 0.2)])
                    rec(metric="errors", value=num(res, "errors"), unit="count")
                    rec(metric="p99 ms (closed loop)",
                        value=num(res, "latency_us", "p99") / 1000, unit="ms")
                    if res.get("tool") != "wrk":
                        fig.notes.append(str(res.get("tool")))
                    session.settle()
            _note_ceiling(session, scenario, unit)


def _note_ceiling(session: Session, scenario: str, unit: str) -> None:
    for fig in session.figures.all():
        if fig.key != (NAME, scenario, unit) or "direct" not in fig.values:
            continue
        ceiling = fig.spread("direct").median
        for target in fig.values:
            if target != "direct" and fig.spread(target).median >= CEILING_SHARE * ceiling:
                fig.notes.append(
                    f"{target} is within {CEILING_SHARE:.0%} of direct: the load side may "
                    "be the limit"
                )
