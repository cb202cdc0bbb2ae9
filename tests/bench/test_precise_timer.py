"""The load generator's send timer: it never wakes before the intended nanosecond (the
offset between perf_counter and CLOCK_MONOTONIC applied the right way), and it wakes."""

from __future__ import annotations

import asyncio
import time

import uvloop

from bench.precise_timer import PreciseTimer


def test_it_wakes_at_each_deadline_never_before() -> None:
    async def run() -> list[int]:
        timer = PreciseTimer(asyncio.get_running_loop())
        early: list[int] = []
        try:
            start = time.perf_counter_ns()
            for i in range(1, 51):
                deadline = start + i * 300_000  # every 0.3 ms, finer than the loop's timers
                await timer.until(deadline)
                early.append(deadline - time.perf_counter_ns())
            await timer.until(start)  # a deadline past: returns at once
        finally:
            timer.close()
        return early

    early = uvloop.run(run())
    assert len(early) == 50
    assert max(early) <= 0
