"""Scaling with cores: the same target with 1 and then 2 worker processes on one port,
closed loop at 128 connections. With 2 workers the target may use both cores, which the
load generator and fake upstream also use: the figure is what the whole machine gets.
The CPU per request of the whole process tree is recorded beside it: if it holds from 1
worker to 2, the workers do not get in each other's way, and what the throughput ratio
misses is cores the load side took."""

from __future__ import annotations

from functools import partial
from typing import Literal

from bench.measurements.common import closed_loop, num
from bench.procs import StartError
from bench.session import Session

NAME = "cores"
CONNECTIONS = 128


def run(session: Session) -> None:
    session.configure_upstream()
    duration = session.duration(3.0, 10.0)
    scenario = f"plain, {CONNECTIONS} conns"
    all_cpus = session.load_cpus | session.sut_cpus
    per_worker: dict[str, dict[int, dict[int, float]]] = {}
    cpu_per_request: dict[str, dict[int, dict[int, float]]] = {}
    for target in session.targets:
        if target.name == "direct":
            continue
        for workers in (1, 2):
            cpus = session.sut_cpus if workers == 1 else all_cpus
            try:
                fresh, proc = session.launch(target.name, workers=workers, cpus=cpus,
                                             tag=f"-{workers}w")
            except StartError as exc:
                session.console.print(f"[yellow]cores: {target.name} x{workers}: {exc}[/]")
                continue
            try:
                session.warm_up(fresh)
                for repeat in range(session.repeats):
                    m = session.measure(
                        f"cores {workers} worker(s) #{repeat + 1}", fresh,
                        partial(closed_loop, session, fresh, connections=CONNECTIONS,
                                duration_s=duration),
                        pid=proc.pid,
                    )
                    rate = num(m.result, "rps")
                    per_worker.setdefault(target.name, {}).setdefault(workers, {})[repeat] = rate
                    session.figures.record(NAME, scenario, f"{workers} worker req/s",
                                           target.name, repeat, rate, unit="req/s",
                                           better="higher")
                    requests = num(m.result, "requests")
                    if requests:
                        cpu_ms = m.target_cpu_s * 1000 / requests
                        cpu_per_request.setdefault(target.name, {}).setdefault(
                            workers, {})[repeat] = cpu_ms
                        session.figures.record(NAME, scenario, f"{workers} worker CPU/req ms",
                                               target.name, repeat, cpu_ms, unit="ms")
                    session.settle()
            finally:
                proc.stop()
    _record_ratios(session, scenario, per_worker, "2 workers / 1 worker", better="higher")
    _record_ratios(session, scenario, cpu_per_request, "CPU/req, 2 workers / 1",
                   better="lower")


def _record_ratios(session: Session, scenario: str,
                   by_target: dict[str, dict[int, dict[int, float]]], metric: str,
                   better: Literal["lower", "higher"]) -> None:
    for name, by_workers in by_target.items():
        one, two = by_workers.get(1, {}), by_workers.get(2, {})
        for repeat in one.keys() & two.keys():
            if one[repeat]:
                session.figures.record(NAME, scenario, metric, name, repeat,
                                       two[repeat] / one[repeat], unit="x", better=better)
