"""Several workers, one `/metrics`: each worker's numbers in a shared directory.

With `server.workers > 1` the kernel spreads connections over worker processes, so a
scrape reaches one of them. Each worker writes its metrics (and its breakers' states) to
`<dir>/worker-<index>.pickle` every second, atomically (write, then rename); a scrape
answers with its own live numbers plus the latest of every other worker, so every
worker tells the whole gateway's story, at most a second old for the others.

A worker that restarts starts from its predecessor's last numbers, so the sums never go
backwards (Prometheus would read that as a counter reset); the requests its predecessor
had in flight died with it and are not counted as in flight.

Each worker publishes its process' own families too (its ledger writer, trace exporter,
CPU, memory, garbage collector), which are shown per worker, not summed
(`process_families.py`).

The directory is private to one `switchpoint serve` (made by the supervisor, mode 0700,
removed when it exits), so the pickles are only ever read by the processes that wrote
them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from switchpoint.observability.metrics import GatewayMetrics, merge_metrics
from switchpoint.observability.process_families import FamilyData

log = logging.getLogger("switchpoint.metrics")

PUBLISH_EVERY_S = 1.0
BreakerStates = dict[tuple[str, str], str]
Published = tuple[GatewayMetrics, BreakerStates, list[FamilyData]]
# Worse state wins when workers disagree (each has its own breakers unless shared).
_SEVERITY = {"closed": 0, "half_open": 1, "open": 2}


_PREFIX = "switchpoint-metrics-"
_ABANDONED_AFTER_S = 10 * PUBLISH_EVERY_S


def make_share_directory() -> Path:
    """A new directory, named for this supervisor's pid; those left by supervisors that
    are gone are removed first (killed with their workers, SIGKILL after a stop timeout
    or the OOM killer, nothing removed them: /dev/shm is memory, and each crash held on
    to one for good)."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
    _remove_abandoned(Path(base))
    return Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=base))


def _remove_abandoned(base: Path) -> None:
    for directory in base.glob(f"{_PREFIX}*-*"):
        pid = directory.name.removeprefix(_PREFIX).split("-", 1)[0]
        try:
            info = directory.stat()
        except OSError:
            continue
        if not pid.isdigit() or info.st_uid != os.getuid():
            continue
        # Its workers publish into it every second: one untouched for a while is not in
        # use, even if its pid means something else here (our own: a container's pid 1
        # again; another pid namespace sharing /dev/shm).
        if time.time() - info.st_mtime < _ABANDONED_AFTER_S:
            continue
        if int(pid) == os.getpid() or not _alive(int(pid)):
            shutil.rmtree(directory, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: not ours to judge
    return True


def remove_share_directory(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


class WorkerShare:
    def __init__(self, directory: Path, index: int, count: int) -> None:
        self.directory = directory
        self.index = index
        self.count = count
        # What this worker's predecessors had counted, if it is a restart.
        self.base = GatewayMetrics()
        own = self._load(index)
        if own is not None:
            self.base = own[0]
            self.base.started = self.base.finished

    def _path(self, index: int) -> Path:
        return self.directory / f"worker-{index}.pickle"

    def _load(self, index: int) -> Published | None:
        try:
            data = self._path(index).read_bytes()
        except FileNotFoundError:
            return None
        except OSError:
            log.warning("cannot read worker %d's metrics", index, exc_info=True)
            return None
        try:
            metrics, states, families = pickle.loads(data)
        except Exception:
            log.warning("worker %d's metrics are unreadable", index, exc_info=True)
            return None
        return metrics, states, families

    def own(self, live: GatewayMetrics) -> GatewayMetrics:
        """This worker's numbers since the first of its line started."""
        return merge_metrics([self.base, live])

    def combined(self, live: GatewayMetrics) -> GatewayMetrics:
        parts = [self.base, live]
        for index in range(self.count):
            if index != self.index:
                peer = self._load(index)
                if peer is not None:
                    parts.append(peer[0])
        return merge_metrics(parts)

    def combined_states(self, live: Mapping[tuple[str, str], str]) -> BreakerStates:
        states = dict(live)
        for index in range(self.count):
            if index == self.index:
                continue
            peer = self._load(index)
            if peer is None:
                continue
            for target, state in peer[1].items():
                if _SEVERITY.get(state, 0) > _SEVERITY.get(states.get(target, "closed"), 0):
                    states[target] = state
        return states

    def peer_families(self) -> list[tuple[int, list[FamilyData]]]:
        """Every other worker's own families, as it last published them."""
        families = []
        for index in range(self.count):
            if index != self.index:
                peer = self._load(index)
                if peer is not None:
                    families.append((index, peer[2]))
        return families

    def publish(
        self,
        live: GatewayMetrics,
        states: Mapping[tuple[str, str], str],
        families: list[FamilyData] | None = None,
    ) -> None:
        published: Published = (self.own(live), dict(states), families or [])
        data = pickle.dumps(published, protocol=pickle.HIGHEST_PROTOCOL)
        path = self._path(self.index)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        try:
            temporary.write_bytes(data)
            os.replace(temporary, path)
        except OSError:
            log.warning("cannot publish this worker's metrics", exc_info=True)
            with contextlib.suppress(OSError):
                temporary.unlink()

    async def run(
        self,
        live: GatewayMetrics,
        states: Callable[[], Mapping[tuple[str, str], str]],
        stop: asyncio.Event,
        families: Callable[[], list[FamilyData]] | None = None,
    ) -> None:
        """Publish every second until `stop`, and once more at the end."""
        while not stop.is_set():
            self.publish(live, states(), families() if families is not None else None)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PUBLISH_EVERY_S)
        self.publish(live, states(), families() if families is not None else None)
