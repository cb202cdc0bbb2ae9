"""Reading CPU time, memory and machine load from /proc.

Why /proc and not psutil: the harness must not add dependencies to the gateway's
virtualenv, and the few numbers it needs are one read away.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class ProcStat:
    pid: int
    ppid: int
    # Seconds of CPU used by the process itself, and by its reaped children.
    cpu_s: float
    children_cpu_s: float
    rss_bytes: int


def read_stat(pid: int) -> ProcStat | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    # The command name is in parentheses and may itself hold spaces or parentheses.
    fields = raw[raw.rindex(b")") + 2 :].split()
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    rss_pages = int(fields[21])
    return ProcStat(
        pid=pid,
        ppid=ppid,
        cpu_s=(utime + stime) / CLOCK_TICKS,
        children_cpu_s=(cutime + cstime) / CLOCK_TICKS,
        rss_bytes=rss_pages * PAGE_SIZE,
    )


def all_stats() -> dict[int, ProcStat]:
    stats: dict[int, ProcStat] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = read_stat(int(name))
            if stat is not None:
                stats[stat.pid] = stat
    return stats


def descendants(root: int, stats: dict[int, ProcStat] | None = None) -> list[ProcStat]:
    """`root` and every live process below it (a multi-worker server is a tree)."""
    stats = all_stats() if stats is None else stats
    children: dict[int, list[int]] = {}
    for s in stats.values():
        children.setdefault(s.ppid, []).append(s.pid)
    found: list[ProcStat] = []
    queue = [root]
    while queue:
        pid = queue.pop()
        stat = stats.get(pid)
        if stat is None:
            continue
        found.append(stat)
        queue.extend(children.get(pid, ()))
    return found


def tree_cpu_s(root: int, stats: dict[int, ProcStat] | None = None) -> float:
    """CPU seconds used by a process tree, including its children that already exited."""
    tree = descendants(root, stats)
    return sum(s.cpu_s + s.children_cpu_s for s in tree)


def _task_run_ns(pid: int) -> int | None:
    """Nanoseconds on CPU of every live thread of `pid` (/proc/<pid>/task/*/schedstat)."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total


def tree_cpu_precise_s(root: int) -> float:
    """CPU seconds of a process tree's live threads, to the nanosecond.

    utime/stime in /proc/<pid>/stat count 10 ms ticks: a run of a few hundred requests
    at a low rate uses only a few ticks, so CPU per request would be mostly rounding.
    The scheduler's own run time (schedstat) is exact. Threads that exited during the
    run are not counted, hence this is for long-lived servers only."""
    total = 0.0
    for stat in descendants(root):
        ns = _task_run_ns(stat.pid)
        total += stat.cpu_s if ns is None else ns / 1e9
    return total


def tree_rss_bytes(root: int) -> int:
    """Resident memory of a process tree (shared pages of forked workers count twice)."""
    return sum(s.rss_bytes for s in descendants(root))


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """Busy and total seconds per CPU since boot, from /proc/stat."""

    busy_s: dict[int, float]
    total_s: dict[int, float]


def read_cpu_times() -> CpuTimes:
    busy: dict[int, float] = {}
    total: dict[int, float] = {}
    with open("/proc/stat", "rb") as f:
        for line in f:
            if not line.startswith(b"cpu") or line.startswith(b"cpu "):
                continue
            parts = line.split()
            cpu = int(parts[0][3:])
            values = [int(x) for x in parts[1:]]
            # user nice system idle iowait irq softirq steal (guest is inside user)
            idle = values[3] + values[4]
            all_ = sum(values[:8])
            busy[cpu] = (all_ - idle) / CLOCK_TICKS
            total[cpu] = all_ / CLOCK_TICKS
    return CpuTimes(busy_s=busy, total_s=total)


def loadavg() -> tuple[float, float, float]:
    with open("/proc/loadavg") as f:
        a, b, c = f.read().split()[:3]
    return float(a), float(b), float(c)


def cpu_model() -> str:
    """The processor's name as the kernel reports it (figures differ by machine)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return "unknown"
