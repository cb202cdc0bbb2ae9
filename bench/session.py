"""One benchmark run: the fake upstream, the targets, where each is pinned, and the
bookkeeping every measurement shares (CPU accounting, noise probes, raw records).

CPU layout on the 2-core machine: the load generators (wrk, bench.loadgen), the fake
upstream and this orchestrator share the load CPU (0); each system under test gets the
other (1) to itself. A 2-worker target gets both.
"""

from __future__ import annotations

import http.client
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from rich.console import Console

from bench import fake_upstream, procfs
from bench.figures import FigureSet
from bench.noise import FOREIGN_CPU_LIMIT, NoiseProbe, NoiseSample
from bench.payloads import chat_body
from bench.procs import ManagedProcess, StartError, free_port, http_get_status
from bench.targets import Target

T = TypeVar("T")

# name, port, workers, cpus -> Target
TargetFactory = Callable[[str, int, int, set[int]], Target]


def cpu_layout() -> tuple[set[int], set[int]]:
    """(load CPUs, system-under-test CPUs)."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) == 1:
        return {cpus[0]}, {cpus[0]}
    return {cpus[0]}, {cpus[1]}


@dataclass
class Measured:
    """What one run of one target produced, and what it cost."""

    result: dict[str, object]
    target_cpu_s: float
    noise: NoiseSample


@dataclass
class Session:
    quick: bool
    repeats: int
    run_dir: Path
    console: Console
    factory: TargetFactory
    load_cpus: set[int]
    sut_cpus: set[int]
    goal_target: str = "switchpoint"
    # How many times a run disturbed by other programs is repeated before it is kept.
    noisy_retries: int = 1
    upstream: ManagedProcess | None = None
    upstream_port: int = 0
    targets: list[Target] = field(default_factory=list)
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    startup_s: dict[str, float] = field(default_factory=dict)
    ready_rss: dict[str, int] = field(default_factory=dict)
    figures: FigureSet = field(default_factory=FigureSet)
    records: list[dict[str, object]] = field(default_factory=list)
    noise: list[dict[str, object]] = field(default_factory=list)
    restarts: list[dict[str, object]] = field(default_factory=list)
    _bodies: dict[tuple[str, bool, int], Path] = field(default_factory=dict)

    # ---- processes --------------------------------------------------------------
    def start_upstream(self) -> None:
        self.upstream, self.upstream_port = fake_upstream.start(
            self.run_dir / "fake_upstream.log", self.load_cpus
        )

    def launch(self, name: str, workers: int = 1, cpus: set[int] | None = None,
               tag: str = "", port: int | None = None) -> tuple[Target, ManagedProcess]:
        """Start a fresh instance of a target; retried on a new port if the port was
        taken between choosing it and binding it."""
        cpus = cpus or self.sut_cpus
        last: Exception | None = None
        for attempt in range(3):
            chosen = port if port is not None and attempt == 0 else free_port()
            target = self.factory(name, chosen, workers, cpus)
            if target.unavailable:
                raise StartError(target.unavailable)
            assert target.argv is not None
            proc = ManagedProcess(
                name=name,
                argv=target.argv,
                env=target.env,
                cpus=target.cpus,
                log_path=self.run_dir / f"{name}{tag}-{target.port}.log",
                cwd=target.cwd,
                unset_env=target.unset_env,
            )
            proc.start()
            try:
                proc.wait_ready("127.0.0.1", target.port, target.ready_path,
                                timeout_s=180 if name == "litellm" else 60)
            except StartError as exc:
                proc.stop()
                last = exc
                if "address already in use" not in proc.log_tail().lower():
                    break
                continue
            return target, proc
        raise StartError(str(last))

    def start_targets(self, names: list[str]) -> None:
        from bench import targets as target_defs

        for name in names:
            if name == "direct":
                self.targets.append(target_defs.direct(self.upstream_port, self.load_cpus))
                continue
            try:
                target, proc = self.launch(name)
            except StartError as exc:
                self.skipped[name] = str(exc).splitlines()[0]
                self.console.print(f"[yellow]skipping {name}: {exc}[/]")
                continue
            problem = self.smoke_test(target)
            if problem:
                proc.stop()
                self.skipped[name] = problem
                self.console.print(f"[yellow]skipping {name}: {problem}[/]")
                continue
            self.targets.append(target)
            self.processes[name] = proc
            self.startup_s[name] = proc.ready_after_s
            self.ready_rss[name] = procfs.tree_rss_bytes(proc.pid)
            self.warm_up(target)
            self.console.print(
                f"{name} ready on :{target.port} (pid {proc.pid}, cpus {sorted(target.cpus)}) "
                f"after {proc.ready_after_s:.2f} s"
            )

    def smoke_test(self, target: Target) -> str | None:
        """One plain and one streamed request must come back whole before measuring."""
        for stream in (False, True):
            body = chat_body(target.model, stream=stream)
            conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=30)
            try:
                conn.request("POST", target.chat_path, body=body,
                             headers={"Content-Type": "application/json", **target.headers})
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                return f"{'stream' if stream else 'request'} failed: {exc!r}"
            finally:
                conn.close()
            kind = "stream" if stream else "request"
            if response.status != 200:
                return f"{kind} answered {response.status}: {data[:300]!r}"
            if stream and b"data: [DONE]" not in data:
                return f"stream did not end with data: [DONE]: {data[-300:]!r}"
            if not stream and b'"choices"' not in data:
                return f"request answered without choices: {data[:300]!r}"
        return None

    def warm_up(self, target: Target, seconds: float = 2.0) -> None:
        """A few seconds of plain and streamed requests before anything is measured:
        servers that import or build things on first use (LiteLLM does, heavily) must
        not have that counted as per-request cost in the first short run."""
        from bench import loadgen, wrk

        for stream in (False, True):
            body = self.body_file(target, stream=stream)
            if wrk.available():
                wrk.run(target.url, body.read_bytes(), connections=8, duration_s=seconds,
                        headers=target.headers, cpus=self.load_cpus)
            else:
                loadgen.run_closed_loop(
                    loadgen.ClosedLoopSpec(url=target.url, connections=8, duration_s=seconds,
                                           body_file=str(body), headers=target.headers,
                                           stream=stream),
                    self.load_cpus,
                )

    def pid_of(self, target: Target) -> int:
        if target.name == "direct":
            assert self.upstream is not None
            return self.upstream.pid
        return self.processes[target.name].pid

    def check_alive(self, target: Target) -> None:
        proc = self.upstream if target.name == "direct" else self.processes.get(target.name)
        if proc is not None and not proc.alive():
            raise StartError(f"{target.name} died; see {proc.log_path}:\n{proc.log_tail()}")

    # ---- upstream control -------------------------------------------------------
    def configure_upstream(self, chunks: int = 20, gap_ms: float = 0.0) -> None:
        fake_upstream.configure(self.upstream_port, chunks, gap_ms)

    def upstream_ready(self) -> bool:
        return http_get_status("127.0.0.1", self.upstream_port, "/readyz") == 200

    # ---- measuring --------------------------------------------------------------
    def body_file(self, target: Target, stream: bool = False, size: int = 0) -> Path:
        key = (target.model, stream, size)
        path = self._bodies.get(key)
        if path is None:
            kind = "stream" if stream else "plain"
            path = self.run_dir / f"body-{target.model}-{kind}-{size}.json"
            path.write_bytes(chat_body(target.model, stream=stream, size_bytes=size))
            self._bodies[key] = path
        return path

    def measure(self, label: str, target: Target, fn: Callable[[], dict[str, object]],
                pid: int | None = None, retries: int | None = None) -> Measured:
        """Run `fn` (a load generator) while accounting the target's CPU and the noise.
        `pid` names the process tree to account when it is not the target's main one;
        `retries` overrides how often a disturbed run is measured again."""
        retries = self.noisy_retries if retries is None else retries
        for attempt in range(retries + 1):
            waited = self.quiesce()
            # Looked up after quiesce(), which may have restarted the target.
            if pid is None:
                self.check_alive(target)
            run_pid = self.pid_of(target) if pid is None else pid
            bystanders = {n: p for n, p in self._our_servers().items()
                          if p != run_pid and n != "fake_upstream"}
            probe = NoiseProbe()
            probe.start()
            by0 = sum(procfs.tree_cpu_s(p) for p in bystanders.values())
            cpu0 = procfs.tree_cpu_precise_s(run_pid)
            result = fn()
            cpu1 = procfs.tree_cpu_precise_s(run_pid)
            by1 = sum(procfs.tree_cpu_s(p) for p in bystanders.values())
            sample = probe.stop()
            # Our other, idle targets must stay idle: their CPU is noise too.
            bystander_cores = (by1 - by0) / sample.wall_s if sample.wall_s else 0.0
            disturbed = max(sample.foreign_cores, bystander_cores)
            if disturbed <= FOREIGN_CPU_LIMIT or attempt == retries:
                break
            self.console.print(f"  {label:<44} {target.name:<14} [yellow]other programs used "
                               f"{sample.foreign_cores:.2f} cores, idle targets "
                               f"{bystander_cores:.2f}: measuring again[/]")
            self.settle(1.0)
        measured = Measured(result, cpu1 - cpu0, sample)
        self.figures.current_foreign = disturbed
        noise = {**sample.to_dict(), "bystander_cores": bystander_cores,
                 "quiesce_wait_s": waited}
        self.records.append({"label": label, "target": target.name, "result": result,
                             "target_cpu_s": measured.target_cpu_s, "noise": noise})
        self.noise.append({"label": label, "target": target.name, **noise})
        flag = " [yellow](disturbed)[/]" if disturbed > FOREIGN_CPU_LIMIT else ""
        self.console.print(f"  {label:<44} {target.name:<14} done in {sample.wall_s:5.1f} s"
                           f", foreign {sample.foreign_cores:.2f} cores, idle targets "
                           f"{bystander_cores:.2f}{flag}")
        return measured

    def _our_servers(self) -> dict[str, int]:
        pids = {name: proc.pid for name, proc in self.processes.items() if proc.alive()}
        if self.upstream is not None and self.upstream.alive():
            pids["fake_upstream"] = self.upstream.pid
        return pids

    def quiesce(self, timeout_s: float = 30.0, limit_cores: float = 0.05) -> float:
        """Wait until none of our servers is still busy (an overloaded target goes on
        working through its backlog after the load stops, on the core the next target
        is measured on). One still busy after `timeout_s` is restarted on the same port:
        a server working through a backlog of abandoned requests can take minutes.
        Returns the seconds waited."""
        start = time.perf_counter()
        window = 0.3
        quiet = 0
        while True:
            pids = self._our_servers()
            before = {n: procfs.tree_cpu_precise_s(p) for n, p in pids.items()}
            time.sleep(window)
            busy = {n: (procfs.tree_cpu_precise_s(p) - before[n]) / window
                    for n, p in pids.items()}
            waited = time.perf_counter() - start
            # Two quiet windows in a row: a backlog can pause briefly between bursts.
            quiet = quiet + 1 if all(b < limit_cores for b in busy.values()) else 0
            if quiet >= 2:
                return waited
            if waited > timeout_s:
                worst = max(busy, key=lambda n: busy[n])
                if worst in self.processes:
                    self.console.print(f"  [yellow]{worst} still busy ({busy[worst]:.2f} "
                                       f"cores) after {waited:.0f} s: restarting it[/]")
                    self.restart(worst)
                    start, quiet = time.perf_counter(), 0
                    continue
                self.console.print(f"  [yellow]{worst} still busy ({busy[worst]:.2f} cores) "
                                   f"after {waited:.0f} s; measuring anyway[/]")
                return waited

    def restart(self, name: str) -> None:
        old = self.processes[name]
        target = next(t for t in self.targets if t.name == name)
        old.stop()
        fresh, proc = self.launch(name, workers=target.workers, cpus=target.cpus,
                                  tag=f"-restart{len(self.restarts) + 1}", port=target.port)
        # Same object, so measurements holding it follow (the port changes only if the
        # old one could not be bound again).
        target.port, target.argv = fresh.port, fresh.argv
        self.processes[name] = proc
        self.warm_up(target)
        self.restarts.append({"target": name, "at": time.time(),
                              "startup_s": proc.ready_after_s})

    def rotated(self, repeat: int) -> list[Target]:
        """Targets in a different order each repeat, so slow drift in the machine does not
        always land on the same target."""
        n = len(self.targets)
        if n == 0:
            return []
        k = repeat % n
        return self.targets[k:] + self.targets[:k]

    def duration(self, quick: float, full: float) -> float:
        return quick if self.quick else full

    def settle(self, seconds: float = 0.3) -> None:
        """Let sockets in TIME_WAIT and timers from the previous run drain."""
        time.sleep(seconds)
