"""Small helpers the measurement modules share."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import cast

from bench import loadgen, wrk
from bench.session import Session
from bench.targets import Target


def num(result: dict[str, object], *path: str) -> float:
    """result[path[0]][path[1]]... as a float."""
    node: object = result
    for key in path:
        node = cast(dict[str, object], node)[key]
    return float(cast(float, node))


def latency(result: dict[str, object], *path: str) -> float:
    """A latency figure of an open-loop run, or infinity when the target could not keep
    up with the arrival rate (the run was cut short; its latency is unbounded)."""
    if result.get("overloaded"):
        return math.inf
    return num(result, *path)


def closed_loop(session: Session, target: Target, *, connections: int, duration_s: float,
                stream: bool = False, size: int = 0) -> dict[str, object]:
    """Closed-loop load on `target`: wrk where installed, else the Python generator.
    Returns requests, rps, errors and latency_us in either case."""
    body_path = session.body_file(target, stream=stream, size=size)
    if wrk.available():
        result = wrk.run(
            target.url, body_path.read_bytes(), connections=connections,
            duration_s=duration_s, headers=target.headers, check_done=stream,
            cpus=session.load_cpus,
        )
        doc = asdict(result)
        doc["tool"] = "wrk"
        # With the [DONE] check, "bad" already includes non-200 answers: count them once.
        raw_errors = cast(dict[str, int], result.raw["errors"])
        socket_errors = result.errors - raw_errors["status"]
        doc["errors"] = socket_errors + result.bad if stream else result.errors
        return doc
    spec = loadgen.ClosedLoopSpec(
        url=target.url, connections=connections, duration_s=duration_s,
        body_file=str(body_path), headers=target.headers, stream=stream,
    )
    doc = loadgen.run_closed_loop(spec, session.load_cpus)
    lat = cast(dict[str, float], doc["latency_ms"])
    doc["latency_us"] = {k: v * 1000 for k, v in lat.items()}
    doc["tool"] = "python closed loop (wrk not installed)"
    return doc
