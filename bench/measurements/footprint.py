"""Footprint: start-up time to ready (spawn until the health URL answers 2xx), resident
memory at ready, and after many requests (a leak shows as growth between the two).

Each start is a fresh instance; start-up is repeated, the long drive is done once. A
slow target may not reach the request count in the time allowed: its figure is then
taken where it got to, and a note says so.
"""

from __future__ import annotations

import time
from functools import partial

from bench import procfs
from bench.measurements.common import closed_loop, num
from bench.procs import StartError
from bench.session import Session

NAME = "footprint"
MB = 1024 * 1024


def run(session: Session) -> None:
    session.configure_upstream()
    milestones = (20_000, 100_000) if session.quick else (100_000, 1_000_000)
    time_cap_s = 120.0 if session.quick else 900.0
    for target in session.targets:
        if target.name == "direct":
            continue
        keep = None
        for repeat in range(session.repeats):
            try:
                fresh, proc = session.launch(target.name, tag=f"-fp{repeat}")
            except StartError as exc:
                session.console.print(f"[yellow]footprint: {target.name}: {exc}[/]")
                break
            rec = partial(session.figures.record, NAME, "fresh instance", target=target.name,
                          repeat=repeat)
            rec(metric="start-up s", value=proc.ready_after_s, unit="s")
            rec(metric="RSS at ready MB", value=procfs.tree_rss_bytes(proc.pid) / MB,
                unit="MB")
            if keep is None:
                keep = (fresh, proc)
            else:
                proc.stop()
        if keep is None:
            continue
        fresh, proc = keep
        try:
            _drive(session, fresh, proc.pid, milestones, time_cap_s)
        finally:
            proc.stop()


def _drive(session: Session, target: object, pid: int, milestones: tuple[int, ...],
           time_cap_s: float) -> None:
    from bench.targets import Target

    assert isinstance(target, Target)
    served = 0
    started = time.perf_counter()
    for goal in milestones:
        label = f"RSS after {goal // 1000}k req MB"
        while served < goal and time.perf_counter() - started < time_cap_s:
            # Only driving requests here: a disturbed run need not be repeated.
            m = session.measure(f"footprint drive to {goal // 1000}k", target,
                                partial(closed_loop, session, target, connections=32,
                                        duration_s=5.0), pid=pid, retries=0)
            served += int(num(m.result, "requests"))
        session.figures.record(NAME, "fresh instance", label, target.name, 0,
                               procfs.tree_rss_bytes(pid) / MB, unit="MB")
        if served < goal:
            session.figures.note(NAME, "fresh instance", label,
                                 f"{target.name} served only {served:,} requests in "
                                 f"{time_cap_s:.0f} s")
            break
