"""Is the machine quiet enough to trust the figures?

Two independent signs, both reported with every run:
- foreign CPU: during each measurement, the busy time of every CPU (/proc/stat) minus
  the CPU time of this harness's own process tree (servers, load generators, wrk). What
  is left belongs to other programs, which steal cycles from the pinned cores.
- spread between repeats: the same figure measured three or more times; if the repeats
  disagree by more than SPREAD_LIMIT, the figure cannot be trusted to that precision.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from bench import procfs

# A figure whose repeats span more than this share of their median is flagged.
SPREAD_LIMIT = 0.10
# Other programs using more than this share of one core during a measurement.
FOREIGN_CPU_LIMIT = 0.05


@dataclass(frozen=True, slots=True)
class NoiseSample:
    wall_s: float
    machine_busy_s: float
    ours_s: float
    busy_by_cpu: dict[int, float]
    loadavg_1m: float

    @property
    def foreign_cores(self) -> float:
        """Average number of cores other programs kept busy (0.25 = a quarter core)."""
        if self.wall_s <= 0:
            return 0.0
        return max(0.0, self.machine_busy_s - self.ours_s) / self.wall_s

    @property
    def noisy(self) -> bool:
        return self.foreign_cores > FOREIGN_CPU_LIMIT

    def to_dict(self) -> dict[str, object]:
        return {
            "wall_s": self.wall_s,
            "machine_busy_s": self.machine_busy_s,
            "harness_cpu_s": self.ours_s,
            "foreign_cores": self.foreign_cores,
            "busy_by_cpu_s": self.busy_by_cpu,
            "loadavg_1m": self.loadavg_1m,
        }


class NoiseProbe:
    """`start()` before a measurement, `stop()` after it."""

    def __init__(self, root_pid: int | None = None) -> None:
        self.root = root_pid or os.getpid()
        self._t0 = 0.0
        self._cpu0: procfs.CpuTimes | None = None
        self._ours0 = 0.0

    def start(self) -> None:
        self._t0 = time.perf_counter()
        self._cpu0 = procfs.read_cpu_times()
        self._ours0 = procfs.tree_cpu_s(self.root)

    def stop(self) -> NoiseSample:
        assert self._cpu0 is not None
        cpu1 = procfs.read_cpu_times()
        ours = procfs.tree_cpu_s(self.root) - self._ours0
        busy_by_cpu = {c: cpu1.busy_s[c] - self._cpu0.busy_s.get(c, 0.0) for c in cpu1.busy_s}
        return NoiseSample(
            wall_s=time.perf_counter() - self._t0,
            machine_busy_s=sum(busy_by_cpu.values()),
            ours_s=ours,
            busy_by_cpu=busy_by_cpu,
            loadavg_1m=procfs.loadavg()[0],
        )


def idle_check(seconds: float = 2.0) -> NoiseSample:
    """Foreign load before anything of ours runs."""
    probe = NoiseProbe()
    probe.start()
    time.sleep(seconds)
    return probe.stop()
