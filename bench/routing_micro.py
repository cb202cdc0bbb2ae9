"""In-process routing decisions per second: a micro-benchmark of a Python function.

Pluggable: `--fn module:factory`, where `factory()` returns a callable `decide(n)` that
makes n routing decisions. The default factory below routes a mix of workloads, context
sizes and budgets through switchpoint's `resolve` over the built-in profile registry.
It runs in its own process pinned to the system-under-test CPU:

  python -m bench.routing_micro [--fn bench.routing_micro:switchpoint_resolve]
      [--seconds 2] [--cpu 1]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from collections.abc import Callable

Decide = Callable[[int], None]
DEFAULT_FN = "bench.routing_micro:switchpoint_resolve"


def switchpoint_resolve() -> Decide:
    from switchpoint.config.loader import load_config
    from switchpoint.routing.decision import RoutingRequest
    from switchpoint.routing.registry import Registry
    from switchpoint.routing.resolve import resolve

    registry = Registry.from_config(load_config())
    requests = [
        RoutingRequest(workload=name, estimated_context_tokens=tokens, budget_constraint=budget)
        for name in registry.profiles
        for tokens in (2_000, 120_000, 700_000)
        for budget in (1.0, 0.3)
    ]
    # Keep only requests some profile can hold: an error path is not a routing decision.
    valid = []
    for request in requests:
        try:
            resolve(registry, request)
        except Exception:  # any rejection means "not a decision"
            continue
        valid.append(request)
    count = len(valid)

    def decide(n: int) -> None:
        for i in range(n):
            resolve(registry, valid[i % count])

    return decide


def load(spec: str) -> Decide:
    module_name, _, attr = spec.partition(":")
    factory = getattr(importlib.import_module(module_name), attr)
    decide: Decide = factory()
    return decide


def measure(decide: Decide, seconds: float) -> dict[str, float]:
    """Calibrate a batch that takes ~50 ms, then run batches for `seconds`."""
    n = 100
    while True:
        t0 = time.perf_counter()
        decide(n)
        elapsed = time.perf_counter() - t0
        if elapsed > 0.05:
            break
        n *= 2
    calls = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        decide(n)
        calls += n
    elapsed = time.perf_counter() - start
    return {"decisions": calls, "seconds": elapsed, "per_s": calls / elapsed,
            "us_per_decision": elapsed / calls * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description="routing decisions per second")
    parser.add_argument("--fn", default=DEFAULT_FN)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--cpu", default=None)
    args = parser.parse_args()
    if args.cpu:
        os.sched_setaffinity(0, {int(c) for c in args.cpu.split(",")})
    sys.path.insert(0, os.getcwd())
    result = measure(load(args.fn), args.seconds)
    json.dump({"fn": args.fn, **result}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
